import { describe, expect, it } from 'vitest';
import type { Contact } from '../../../lib/cleartalk/schemas.js';
import type { PatchJob } from '../../../lib/jobs/patch-job.js';
import {
  createRedrivePreview,
  type DeadLetter,
  formatDeadLetter,
  redactPatchJob,
  redactValue,
} from '../../../tools/dlq.js';

const job: PatchJob = {
  version: 1,
  jobId: 'shopify:s.myshopify.com:customer:42:2026-11-26T10:00:00Z',
  source: 'shopify',
  match: {
    externalKey: 'shopify:s.myshopify.com:customer:42',
    email: 'ada.lovelace@example.com',
    phone: '+15550001111',
  },
  patch: {
    firstName: 'Ada',
    lastName: 'Lovelace',
    email: 'ada.lovelace@example.com',
    customField: { plan: 'pro', age: 36, newsletter: true, cleared: null },
  },
  occurredAt: '2026-11-26T10:00:00Z',
};

const VALUES = ['Ada', 'Lovelace', 'ada.lovelace@example.com', '+15550001111', 'pro', '36', 'true'];

function letter(overrides: Partial<DeadLetter> = {}): DeadLetter {
  return {
    messageId: 'm-1',
    receiptHandle: 'secret-handle',
    body: JSON.stringify(job),
    groupId: 'shopify:s.myshopify.com:customer:42',
    reason: 'unresolved-contact',
    status: undefined,
    errorMessage: 'no contact for the match',
    sentAt: '2026-11-26T10:00:01.000Z',
    jobId: job.jobId,
    source: job.source,
    ...overrides,
  };
}

describe('redactValue', () => {
  it('gives the length of a value but not its content', () => {
    expect(redactValue('Lovelace')).toBe('[hidden, 8 chars]');
    expect(redactValue(36)).toBe('[hidden number, 2 chars]');
    expect(redactValue(false)).toBe('[hidden boolean]');
    expect(redactValue(null)).toBeNull();
  });
});

describe('redactPatchJob', () => {
  it('hides every value of patch and match and keeps ids, field names and the external key', () => {
    expect(redactPatchJob(job)).toEqual({
      version: 1,
      jobId: job.jobId,
      source: 'shopify',
      match: {
        externalKey: 'shopify:s.myshopify.com:customer:42',
        email: '[hidden, 24 chars]',
        phone: '[hidden, 12 chars]',
      },
      patch: {
        firstName: '[hidden, 3 chars]',
        lastName: '[hidden, 8 chars]',
        email: '[hidden, 24 chars]',
        customField: {
          plan: '[hidden, 3 chars]',
          age: '[hidden number, 2 chars]',
          newsletter: '[hidden boolean]',
          cleared: null,
        },
      },
      occurredAt: '2026-11-26T10:00:00Z',
    });
  });

  it('keeps the contact id of a job without match', () => {
    const { match: _match, ...rest } = job;
    const redacted = redactPatchJob({ ...rest, contactId: '17' });
    expect(redacted.contactId).toBe('17');
    expect(redacted).not.toHaveProperty('match');
  });
});

describe('formatDeadLetter', () => {
  it('prints the attributes and the job without contact values or the receipt handle', () => {
    const text = formatDeadLetter(letter()).join('\n');
    for (const value of VALUES) expect(text).not.toContain(value);
    expect(text).not.toContain('secret-handle');
    expect(text).toContain('"reason": "unresolved-contact"');
    expect(text).toContain('"groupId": "shopify:s.myshopify.com:customer:42"');
    expect(text).toContain(`"jobId": "${job.jobId}"`);
    expect(text).toContain('"firstName": "[hidden, 3 chars]"');
    expect(text).toContain('--show-values');
  });

  it('hides a message group that is not one of the job ids (an email, for a job matched by email)', () => {
    const text = formatDeadLetter(letter({ groupId: 'ada.lovelace@example.com' })).join('\n');
    expect(text).not.toContain('ada.lovelace@example.com');
    expect(text).toContain('"groupId": "[hidden, 24 chars]"');
  });

  it('reduces a body that is not a valid PatchJob to its length and the problem', () => {
    const body = JSON.stringify({ ...job, version: 2 });
    const lines = formatDeadLetter(letter({ body, groupId: 'ada.lovelace@example.com' }));
    const text = lines.join('\n');
    for (const value of VALUES) expect(text).not.toContain(value);
    expect(lines[1]).toMatch(new RegExp(`^body: ${body.length} chars, not a valid PatchJob: .*version`));
  });

  it('prints the whole body with showValues', () => {
    const lines = formatDeadLetter(letter({ groupId: 'ada.lovelace@example.com' }), { showValues: true });
    expect(JSON.parse(lines[1] ?? '')).toEqual(job);
    expect(lines[0]).toContain('ada.lovelace@example.com');
    expect(lines.join('\n')).not.toContain('secret-handle');
    expect(formatDeadLetter(letter({ body: 'not json' }), { showValues: true })[1]).toBe('not json');
  });
});

describe('redrive --dry-run of an unresolved job', () => {
  const deps = {
    clearTalk: { getContact: async () => Promise.reject(new Error('not called')) },
    state: { isApplied: async () => false, getFieldVersions: async () => ({ revision: 0, fields: {} }) },
    links: { lookup: async () => ({}) },
  };

  it('says the worker would create the contact when the source is set to', async () => {
    const preview = createRedrivePreview({
      ...deps,
      policy: (source) => ({ createIfUnresolved: source === 'shopify' }),
    });
    const [line] = await preview(job);
    expect(line).toBe(
      'unresolved: no link for this match yet; source shopify creates contacts, so the worker would POST /contacts with firstName, lastName, email, customField and link it',
    );
    expect(line).not.toMatch(/Ada|example\.com/);
  });

  it('says the worker would skip it when its customer was redacted after the change, whatever the policy', async () => {
    for (const createIfUnresolved of [false, true]) {
      const preview = createRedrivePreview({
        ...deps,
        links: { lookup: async () => ({ redactedAt: '2026-11-27T00:00:00.000Z' }) },
        policy: () => ({ createIfUnresolved }),
      });
      expect(await preview(job)).toEqual([
        'redacted: the customer was redacted after this change; the worker skips it (no request, no link, no dead letter)',
      ]);
    }
    // Redacted before the change: a new relationship, as the worker treats it.
    const before = createRedrivePreview({
      ...deps,
      links: { lookup: async () => ({ redactedAt: '2026-11-01T00:00:00.000Z' }) },
    });
    expect((await before(job))[0]).toMatch(/^unresolved: /);
  });

  it('says it would be dead-lettered again otherwise', async () => {
    for (const preview of [
      createRedrivePreview(deps),
      createRedrivePreview({ ...deps, policy: () => ({ createIfUnresolved: false }) }),
    ]) {
      expect(await preview(job)).toEqual([
        'unresolved: no link for this match yet; it would be dead-lettered again (npm run links -- import)',
      ]);
    }
  });
});

describe('redrive --dry-run of a job dated in the future', () => {
  const contactJob: PatchJob = { ...job, contactId: '7', occurredAt: '2026-11-28T12:00:00Z' };
  const deps = {
    clearTalk: { getContact: async () => ({ id: 7, firstName: 'Bob' }) as unknown as Contact },
    state: { isApplied: async () => false, getFieldVersions: async () => ({ revision: 0, fields: {} }) },
    links: { lookup: async () => ({}) },
  };

  it('says the worker would dead-letter it again when occurredAt is over 24 h ahead, as the worker does', async () => {
    const at = (iso: string) => () => Date.parse(iso);
    const ahead = createRedrivePreview({ ...deps, now: at('2026-11-27T10:00:00Z') });
    expect(await ahead(contactJob)).toEqual([
      'invalid: occurredAt is 26 h ahead of the clock (the worker accepts at most 24 h); it would be dead-lettered again (invalid-job)',
    ]);
    // 23 h ahead is accepted: the usual diff.
    const within = createRedrivePreview({ ...deps, now: at('2026-11-27T13:00:00Z') });
    expect((await within(contactJob))[0]).toBe('contact 7');
  });
});
