import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KnownAnswerSchema,
  readCommonAnswer,
  TypeformWebhookSchema,
} from '../../../../lib/sources/typeform/schema.js';
import { loadFixture } from '../load-fixture.js';

// readCommonAnswer is a hand-written copy of KnownAnswerSchema's checks for the common answer
// types (the webhook hot path); these tests hold it to zod's verdicts and output.

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const anyValue = fc.oneof(
  fc.string(),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }),
  fc.record({
    id: maybe(fc.oneof(fc.string(), fc.integer())),
    label: maybe(fc.string()),
    ref: maybe(fc.string()),
    other: maybe(fc.oneof(fc.string(), fc.constant(null))),
  }),
  fc.record({
    ids: maybe(fc.array(fc.string(), { maxLength: 2 })),
    labels: maybe(fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 2 })),
    refs: maybe(fc.array(fc.string(), { maxLength: 2 })),
    other: maybe(fc.oneof(fc.string(), fc.integer())),
  }),
);
const field = fc.oneof(
  fc.record(
    {
      id: fc.oneof(fc.string(), fc.integer()),
      type: maybe(fc.oneof(fc.string(), fc.integer())),
      ref: fc.string(),
    },
    { requiredKeys: ['id'] },
  ),
  fc.constant(null),
  fc.string(),
);
const answerType = fc.constantFrom(
  'text',
  'email',
  'phone_number',
  'date',
  'url',
  'file_url',
  'number',
  'boolean',
  'choice',
  'choices',
  'payment',
  'signature',
  'hologram',
);
const rawAnswer = fc
  .tuple(answerType, anyValue, field, fc.boolean())
  .map(([type, value, answerField, extra]) => ({
    type,
    [type]: value,
    field: answerField,
    ...(extra ? { later: { added: true } } : {}),
  }));

describe('readCommonAnswer', () => {
  it('accepts exactly the answers KnownAnswerSchema accepts, with the same output', () => {
    fc.assert(
      fc.property(rawAnswer, (raw) => {
        const fast = readCommonAnswer(raw);
        const zod = KnownAnswerSchema.safeParse(raw);
        if (fast !== undefined) {
          expect(zod.success).toBe(true);
          expect(fast).toEqual(zod.data);
        } else if (zod.success) {
          // Declined answers go to zod: allowed only for the types the hand check leaves to it.
          expect(['payment', 'multi_format', 'signature']).toContain(zod.data.type);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('declines what zod rejects on the common types', () => {
    const base = { field: { id: 'f1', ref: 'r1' } };
    expect(readCommonAnswer({ ...base, type: 'number', number: Number.NaN })).toBeUndefined();
    expect(readCommonAnswer({ ...base, type: 'text' })).toBeUndefined();
    expect(readCommonAnswer({ type: 'text', text: 'x', field: { id: 'f1', ref: '' } })).toBeUndefined();
    expect(readCommonAnswer({ type: 'text', text: 'x', field: { id: '' } })).toBeUndefined();
    expect(readCommonAnswer({ ...base, type: 'choices', choices: { labels: [1] } })).toBeUndefined();
    expect(readCommonAnswer([{ ...base, type: 'text', text: 'x' }])).toBeUndefined();
    expect(readCommonAnswer({ ...base, type: 'text', text: 'x' })).toBeDefined();
  });

  it('leaves an object with an own __proto__ key to zod', () => {
    const raw = JSON.parse('{"type":"text","text":"x","field":{"id":"f"},"__proto__":{"a":1}}');
    expect(readCommonAnswer(raw)).toBeUndefined();
    expect(KnownAnswerSchema.safeParse(raw).success).toBe(true);
  });
});

describe('TypeformWebhookSchema answers', () => {
  it('reports a malformed answer at its index under answers', () => {
    const body = loadFixture<{ form_response: { answers: unknown[] } }>('typeform/form-response.json');
    body.form_response.answers[2] = { type: 'text', text: 'x' };
    const parsed = TypeformWebhookSchema.safeParse(body);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.path)).toEqual([
      ['form_response', 'answers', 2, 'field'],
    ]);
  });

  it('keeps answers in order, skipping unknown types by name', () => {
    const body = loadFixture<{ form_response: { answers: unknown[] } }>('typeform/form-response.json');
    body.form_response.answers.splice(1, 0, {
      type: 'hologram',
      hologram: {},
      field: { id: 'h', ref: 'holo' },
    });
    const answers = TypeformWebhookSchema.parse(body).form_response.answers;
    expect(answers[1]).toEqual({
      type: 'skipped',
      answerType: 'hologram',
      field: { id: 'h', ref: 'holo' },
      reason: 'unsupported answer type hologram',
    });
    expect(answers).toHaveLength(body.form_response.answers.length);
  });
});
