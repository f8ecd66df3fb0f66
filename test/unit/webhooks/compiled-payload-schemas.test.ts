import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CompiledSchema, compileWhenHot } from '../../../lib/compiled-schema.js';
import { ShopifyCustomerSchema, ShopifyOrderFieldsSchema } from '../../../lib/sources/shopify/schema.js';
import { TypeformWebhookSchema } from '../../../lib/sources/typeform/schema.js';
import * as z from '../../../lib/zod.js';
import { loadFixture } from '../sources/load-fixture.js';

// The webhook paths parse Typeform bodies, Shopify orders and Shopify customers with
// compileWhenHot(schema) (lib/webhooks/{typeform,shopify}.ts); here `hot` makes the compiled tier
// answer from the first parse. These tests hold the compiled
// parsers to the runtime schema: same verdict, same output (strictly: no key added or lost), same
// issues. They also fail when a schema edit makes z.compile refuse it, which would silently give
// the webhook path back the slower runtime parser.

type Json = Record<string, unknown>;

const values = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.string({ maxLength: 8 }),
  fc.constant(''),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant('2026-11-26T10:00:00-05:00'),
  fc.constant('2026-02-30T10:00:00Z'),
  fc.constant([]),
  fc.constant({}),
  fc.constant({ id: 'f1', ref: 'r1' }),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }),
);

/** Sets `path` in a copy of a fixture (when its parent exists), `undefined` deleting the key. */
function edit(payload: Json, path: ReadonlyArray<string | number>, value: unknown): void {
  let target: unknown = payload;
  for (const key of path.slice(0, -1)) {
    if (typeof target !== 'object' || target === null) return;
    target = (target as Record<string | number, unknown>)[key];
  }
  if (typeof target !== 'object' || target === null) return;
  const last = path.at(-1) as string | number;
  if (value === undefined) delete (target as Record<string | number, unknown>)[last];
  else (target as Record<string | number, unknown>)[last] = value;
}

/** The schema's compiled tier, serving from the first parse. */
function hot<T extends z.ZodMiniType>(schema: T): CompiledSchema<T> {
  return compileWhenHot(schema, { hotAfter: 1 });
}

function expectSameParse(schema: z.ZodMiniType, payload: unknown): void {
  const runtime = schema.safeParse(payload);
  const compiled = hot(schema).safeParse(payload);
  expect(compiled.success).toBe(runtime.success);
  if (runtime.success) expect(compiled.data).toStrictEqual(runtime.data);
  else expect(compiled.error?.issues).toStrictEqual(runtime.error.issues);
}

const cases: Array<{
  name: string;
  schema: z.ZodMiniType;
  fixtures: string[];
  paths: Array<ReadonlyArray<string | number>>;
}> = [
  {
    name: 'TypeformWebhookSchema',
    schema: TypeformWebhookSchema,
    fixtures: ['typeform/form-response.json'],
    paths: [
      ['event_id'],
      ['event_type'],
      ['form_response'],
      ['form_response', 'form_id'],
      ['form_response', 'token'],
      ['form_response', 'response_id'],
      ['form_response', 'submitted_at'],
      ['form_response', 'landed_at'],
      ['form_response', 'hidden'],
      ['form_response', 'hidden', 'contact_id'],
      ['form_response', 'calculated'],
      ['form_response', 'variables'],
      ['form_response', 'definition'],
      ['form_response', 'answers'],
      ['form_response', 'answers', 0, 'text'],
      ['form_response', 'answers', 2, 'type'],
      ['form_response', 'answers', 3, 'field'],
      ['form_response', 'answers', 3, 'field', 'ref'],
      ['form_response', 'answers', 7, 'choice'],
      ['form_response', 'answers', 8, 'choices', 'labels'],
      ['form_response', 'answers', 11, 'payment', 'success'],
      ['form_response', 'answers', 20],
    ],
  },
  {
    name: 'ShopifyOrderFieldsSchema',
    schema: ShopifyOrderFieldsSchema,
    fixtures: ['shopify/order.json', 'shopify/guest-order.json'],
    paths: [
      ['id'],
      ['admin_graphql_api_id'],
      ['email'],
      ['phone'],
      ['updated_at'],
      ['processed_at'],
      ['total_price'],
      ['customer'],
      ['customer', 'id'],
      ['customer', 'admin_graphql_api_id'],
      ['customer', 'default_address'],
      ['customer', 'default_address', 'country_code'],
      ['customer', 'metafields'],
      ['billing_address'],
      ['billing_address', 'phone'],
      ['line_items'],
    ],
  },
  {
    name: 'ShopifyCustomerSchema',
    schema: ShopifyCustomerSchema,
    fixtures: ['shopify/customer.json'],
    paths: [
      ['id'],
      ['admin_graphql_api_id'],
      ['email'],
      ['phone'],
      ['updated_at'],
      ['created_at'],
      ['verified_email'],
      ['default_address'],
      ['default_address', 'phone'],
      ['metafields'],
      ['addresses'],
      ['tags'],
    ],
  },
];

describe.each(cases)('compileWhenHot($name), compiled tier', ({ schema, fixtures, paths }) => {
  it('compiles without falling back to the runtime parser', () => {
    expect(() => z.compile(schema, { strict: true })).not.toThrow();
  });

  it.each(fixtures)('parses %s exactly as the runtime schema', (path) => {
    const payload = loadFixture(path);
    expect(hot(schema).parse(payload)).toStrictEqual(schema.parse(payload));
  });

  it('accepts, rejects and reports exactly as the runtime schema on mutated payloads', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...fixtures),
        fc.array(fc.tuple(fc.constantFrom(...paths), values), { minLength: 1, maxLength: 3 }),
        (path, edits) => {
          const payload = loadFixture<Json>(path);
          for (const [at, value] of edits) edit(payload, at, value);
          expectSameParse(schema, payload);
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('compileWhenHot(TypeformWebhookSchema) on a 100-answer body, compiled tier', () => {
  it('keeps every answer, skipped ones included, in order', () => {
    const body = loadFixture<{ form_response: { answers: unknown[] } }>('typeform/form-response.json');
    for (let i = 0; i < 100; i++) {
      body.form_response.answers.push(
        i % 2 === 0
          ? { type: 'number', number: i, field: { id: `n${i}`, ref: `number_${i}` } }
          : { type: 'hologram', hologram: {}, field: { id: `h${i}` } },
      );
    }
    const compiled = hot(TypeformWebhookSchema).parse(body);
    expect(compiled).toStrictEqual(TypeformWebhookSchema.parse(body));
    expect(compiled.form_response.answers).toHaveLength(body.form_response.answers.length);
  });
});
