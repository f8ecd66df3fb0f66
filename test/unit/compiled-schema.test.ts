import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContactPatchSchema, ContactSchema } from '../../lib/cleartalk/schemas.js';
import { compileWhenHot } from '../../lib/compiled-schema.js';
import { PatchJobSchema } from '../../lib/jobs/patch-job.js';
import * as z from '../../lib/zod.js';
import { buildContact } from '../helpers/contact.js';

describe('compileWhenHot', () => {
  it('parses on the runtime parser until hot, then compiles the schema once', () => {
    const compiled: z.ZodMiniType[] = [];
    const schema = z.object({ a: z.string() });
    const parser = compileWhenHot(schema, {
      hotAfter: 3,
      compile: (s) => {
        compiled.push(s);
        return z.compile(s);
      },
    });
    expect(parser.parse({ a: 'x' })).toEqual({ a: 'x' });
    expect(parser.safeParse({ a: 1 }).success).toBe(false);
    expect(compiled).toEqual([]);
    parser.parse({ a: 'z' });
    parser.parse({ a: 'w' });
    expect(parser.safeParse({ a: 1 }).success).toBe(false);
    expect(compiled).toEqual([schema]);
  });

  // The compiled tier must be indistinguishable: same data on success, same issues on failure.
  const cases = [
    { name: 'ContactPatch', schema: ContactPatchSchema as z.ZodMiniType },
    { name: 'Contact', schema: ContactSchema as z.ZodMiniType },
    { name: 'PatchJob', schema: PatchJobSchema as z.ZodMiniType },
  ];
  const inputs = fc.oneof(
    fc.record(
      {
        firstName: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
        tag: fc.string(),
        customField: fc.dictionary(
          fc.string(),
          fc.oneof(fc.string(), fc.double(), fc.boolean(), fc.object()),
        ),
        extra: fc.string(),
      },
      { requiredKeys: [] },
    ),
    fc.constant(buildContact({ id: 7 })),
    fc.constant({ ...buildContact({ id: 7 }), createdAt: 'yesterday' }),
    fc.constant({
      version: 1,
      jobId: 'j1',
      source: 'typeform',
      contactId: '7',
      patch: { firstName: 'Ada' },
      occurredAt: '2026-11-26T10:00:00Z',
    }),
    fc.constant({
      version: 1,
      jobId: 'j1',
      source: 'typeform',
      patch: {},
      occurredAt: '2026-02-30T10:00:00Z',
    }),
    fc.anything(),
  );
  for (const { name, schema } of cases) {
    it(`gives the runtime parser's answer on the compiled tier (${name})`, () => {
      const hot = compileWhenHot(schema, { hotAfter: 1 });
      hot.safeParse(undefined); // now compiled
      fc.assert(
        fc.property(inputs, (input) => {
          const expected = schema.safeParse(input);
          const actual = hot.safeParse(input);
          expect(actual.success).toBe(expected.success);
          if (expected.success) expect(actual.data).toEqual(expected.data);
          else expect(actual.error?.issues).toEqual(expected.error.issues);
        }),
        { numRuns: 400 },
      );
    });
  }
});
