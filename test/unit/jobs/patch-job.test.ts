import { describe, expect, it } from 'vitest';
import { ContactPatchSchema } from '../../../lib/cleartalk/schemas.js';
import { contactKey, deduplicationId, PatchJobSchema } from '../../../lib/jobs/patch-job.js';

const job = {
  version: 1,
  jobId: 'typeform:lT4Z3j:a3a12ec67a1365927098a606107fac15',
  source: 'typeform',
  contactId: '123',
  patch: { firstName: 'Ada', customField: { plan: 'pro' } },
  occurredAt: '2026-11-26T10:00:00Z',
};

describe('PatchJobSchema', () => {
  it('accepts the DESIGN.md example', () => {
    expect(PatchJobSchema.safeParse(job).success).toBe(true);
  });

  it('needs contactId or match', () => {
    const { contactId: _omit, ...rest } = job;
    expect(PatchJobSchema.safeParse(rest).success).toBe(false);
    expect(PatchJobSchema.safeParse({ ...rest, match: { email: 'a@b.co' } }).success).toBe(true);
  });

  it('refuses a jobId or external key too long to key a DynamoDB item, naming the limit', () => {
    // 1,000 two-byte characters are 2,000 bytes: the most a jobId may take; 1,001 are too many.
    expect(PatchJobSchema.safeParse({ ...job, jobId: 'é'.repeat(1000) }).success).toBe(true);
    const longJob = PatchJobSchema.safeParse({ ...job, jobId: 'é'.repeat(1001) });
    expect(longJob.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['jobId', 'must be at most 2000 bytes in UTF-8 (it keys a DynamoDB item)'],
    ]);
    const { contactId: _omit, ...rest } = job;
    const key = (chars: number) => ({ ...rest, match: { externalKey: `x:${'中'.repeat(chars)}` } });
    expect(PatchJobSchema.safeParse(key(340)).success).toBe(true); // 2 + 1,020 bytes
    expect(PatchJobSchema.safeParse(key(341)).error?.issues[0]?.path).toEqual(['match', 'externalKey']);
  });

  it('rejects a non-numeric contact id and an unknown version', () => {
    expect(PatchJobSchema.safeParse({ ...job, contactId: 'abc' }).success).toBe(false);
    expect(PatchJobSchema.safeParse({ ...job, version: 2 }).success).toBe(false);
  });
});

describe('ContactPatchSchema', () => {
  it('rejects an empty patch, an unknown key and a wrong type', () => {
    expect(ContactPatchSchema.safeParse({}).success).toBe(false);
    expect(ContactPatchSchema.safeParse({ nickname: 'x' }).success).toBe(false);
    expect(ContactPatchSchema.safeParse({ firstName: 3 }).success).toBe(false);
    expect(ContactPatchSchema.safeParse({ customField: { a: { nested: true } } }).success).toBe(false);
  });
});

describe('contactKey', () => {
  it('prefers contactId, then externalKey, then email', () => {
    expect(contactKey({ contactId: '9', match: { email: 'a@b.co' } })).toBe('9');
    expect(contactKey({ match: { externalKey: 'shopify:s:customer:1', email: 'a@b.co' } })).toBe(
      'shopify:s:customer:1',
    );
    expect(contactKey({ match: { email: 'a@b.co' } })).toBe('a@b.co');
  });

  it('hashes keys SQS would refuse', () => {
    expect(contactKey({ match: { email: 'ünï@b.co' } })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('derives a stable deduplication id within the SQS limit', () => {
    expect(deduplicationId(job.jobId)).toBe(deduplicationId(job.jobId));
    expect(deduplicationId('x'.repeat(500))).toHaveLength(64);
  });
});
