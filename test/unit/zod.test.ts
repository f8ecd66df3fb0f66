import { describe, expect, it } from 'vitest';
import { PatchJobSchema } from '../../lib/jobs/patch-job.js';
import * as z from '../../lib/zod.js';

// lib/zod.ts is zod/mini, which ships no messages of its own: the English locale must be
// installed, or every webhook rejection and dead letter would say only "Invalid input".
describe('lib/zod', () => {
  it('gives English messages', () => {
    expect(z.string().safeParse(1).error?.issues[0]?.message).toBe(
      'Invalid input: expected string, received number',
    );
    expect(z.string().check(z.minLength(3)).safeParse('ab').error?.issues[0]?.message).toBe(
      'Too small: expected string to have >=3 characters',
    );
  });

  it('gives the messages the PatchJob schema reports to dead letters', () => {
    const result = PatchJobSchema.safeParse({
      version: 2,
      jobId: '',
      source: 's',
      patch: {},
      occurredAt: 'x',
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`)).toEqual([
      'version: Invalid input: expected 1',
      'jobId: Too small: expected string to have >=1 characters',
      'patch: a patch needs at least one field',
      'occurredAt: Invalid ISO datetime',
    ]);
  });
});
