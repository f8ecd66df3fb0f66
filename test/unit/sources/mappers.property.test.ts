import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONTACT_STRING_FIELDS } from '../../../lib/cleartalk/schemas.js';
import { PatchJobSchema } from '../../../lib/jobs/patch-job.js';
import { parseMappingConfig } from '../../../lib/sources/mapping-config.js';
import type { MapOutcome } from '../../../lib/sources/outcome.js';
import {
  ShopifyGraphqlCustomerSchema,
  shopifyCustomerFromGraphql,
} from '../../../lib/sources/shopify/graphql.js';
import { mapShopifyCustomer, mapShopifyOrder } from '../../../lib/sources/shopify/mapper.js';
import { ShopifyCustomerSchema, ShopifyOrderSchema } from '../../../lib/sources/shopify/schema.js';
import { mapTypeformResponse } from '../../../lib/sources/typeform/mapper.js';
import { FormResponseSchema } from '../../../lib/sources/typeform/schema.js';

// Seeded so a failure reproduces; raise numRuns locally when hunting.
const runs = { seed: 20261127, numRuns: 400 };

function expectValidOutcome(outcome: MapOutcome): void {
  if (outcome.kind === 'job') {
    const checked = PatchJobSchema.safeParse(outcome.job);
    expect(checked.success, JSON.stringify(checked.error?.issues)).toBe(true);
  } else {
    expect(outcome.kind).toBe('nothing');
    expect(outcome.reason.length).toBeGreaterThan(0);
  }
  for (const dropped of outcome.dropped) {
    expect(typeof dropped.field).toBe('string');
    expect(typeof dropped.reason).toBe('string');
  }
}

const messyText = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom(
    '',
    '   ',
    'a@b.co',
    ' X@Y.ORG ',
    '+14155550123',
    '(213) 373-4253',
    '1990-05-01',
    '2026-02-30',
  ),
  fc.emailAddress(),
);
const anything = fc.oneof(messyText, fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.object());
const refs = fc.oneof(
  fc.constantFrom(
    'first_name',
    'last_name',
    'email',
    'phone',
    'date_of_birth',
    'plan',
    'contact_id',
    '__proto__',
  ),
  fc.string({ minLength: 1, maxLength: 12 }),
);
const field = fc.record(
  { id: fc.string({ minLength: 1, maxLength: 10 }), type: fc.string(), ref: refs },
  { requiredKeys: ['id'] },
);

const wellTypedAnswer = fc.oneof(
  fc.record({ type: fc.constant('text'), text: messyText, field }),
  fc.record({ type: fc.constant('email'), email: messyText, field }),
  fc.record({ type: fc.constant('phone_number'), phone_number: messyText, field }),
  fc.record({ type: fc.constant('number'), number: fc.double(), field }),
  fc.record({ type: fc.constant('boolean'), boolean: fc.boolean(), field }),
  fc.record({ type: fc.constant('date'), date: messyText, field }),
  fc.record({ type: fc.constant('url'), url: messyText, field }),
  fc.record({ type: fc.constant('file_url'), file_url: messyText, field }),
  fc.record({
    type: fc.constant('choice'),
    choice: fc.record(
      { id: fc.string(), label: messyText, ref: fc.string(), other: messyText },
      { requiredKeys: [] },
    ),
    field,
  }),
  fc.record({
    type: fc.constant('choices'),
    choices: fc.record(
      {
        ids: fc.array(fc.string()),
        labels: fc.array(messyText),
        refs: fc.array(fc.string()),
        other: messyText,
      },
      { requiredKeys: [] },
    ),
    field,
  }),
  fc.record({
    type: fc.constant('payment'),
    payment: fc.record({ amount: fc.string(), last4: fc.string(), name: fc.string(), success: fc.boolean() }),
    field,
  }),
  fc.record({ type: fc.constantFrom('multi_format', 'signature'), signature: anything, field }),
);
const junkAnswer = fc.record({
  type: fc.oneof(fc.string({ minLength: 1 }), fc.constantFrom('number', 'choice', 'email')),
  field,
  number: anything,
  choice: anything,
  email: anything,
});
const hidden = fc.dictionary(
  fc.oneof(fc.constantFrom('contact_id', 'cid', 'utm_campaign'), fc.string()),
  fc.oneof(anything, fc.constantFrom('42', '0', '-1', '9'.repeat(25))),
);
const timestamp = fc
  .date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true })
  .chain((date) =>
    fc
      .constantFrom('Z', '+00:00', '-05:00', '+05:30', '+14:00', '-12:00')
      .map((zone) => `${date.toISOString().slice(0, 19)}${zone}`),
  );

const configData = fc.record(
  {
    typeform: fc.record({
      defaults: fc.record(
        {
          fieldMap: fc.dictionary(refs, fc.constantFrom(...CONTACT_STRING_FIELDS, 'skip' as const)),
          contactIdHiddenField: fc.constantFrom('contact_id', 'cid'),
          hiddenFieldsToCustomField: fc.array(fc.constantFrom('utm_campaign', 'cid', 'contact_id')),
          copyUnmappedAnswers: fc.boolean(),
          listName: fc.constantFrom('List', 'Other'),
        },
        { requiredKeys: [] },
      ),
    }),
  },
  { requiredKeys: [] },
);

describe('mapper properties', () => {
  it('mapTypeformResponse never throws and returns a valid job or nothing', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(wellTypedAnswer, junkAnswer), { maxLength: 12 }),
        hidden,
        timestamp,
        configData,
        fc.constantFrom('US', 'GB', 'DE', 'ZZ'),
        (answers, hiddenFields, submittedAt, config, region) => {
          const response = FormResponseSchema.parse({
            form_id: 'lT4Z3j',
            token: 'tok',
            submitted_at: submittedAt,
            hidden: hiddenFields,
            answers,
          });
          const outcome = mapTypeformResponse(response, {
            config: parseMappingConfig(config, 'generated'),
            defaultPhoneRegion: region,
          });
          expectValidOutcome(outcome);
          if (outcome.kind === 'job') expect(outcome.job.jobId).toBe('typeform:lT4Z3j:tok');
        },
      ),
      runs,
    );
  });

  const address = fc.option(
    fc.record(
      {
        first_name: fc.option(messyText),
        last_name: fc.option(messyText),
        city: fc.option(messyText),
        country: fc.option(messyText),
        country_code: fc.option(fc.oneof(fc.constantFrom('US', 'GB', 'de', 'XX', ''), fc.string())),
        phone: fc.option(messyText),
      },
      { requiredKeys: [] },
    ),
  );
  const customerFields = {
    id: fc.oneof(fc.integer({ min: 1 }), fc.bigInt({ min: 1n, max: 10n ** 19n }).map(String)),
    admin_graphql_api_id: fc.oneof(fc.string(), fc.constant('gid://shopify/Customer/42')),
    first_name: fc.option(messyText),
    last_name: fc.option(messyText),
    email: fc.option(messyText),
    phone: fc.option(messyText),
    state: fc.option(fc.constantFrom('enabled', 'disabled', 'INVITED', '')),
    default_address: address,
    metafields: fc.option(
      fc.array(
        fc.record({
          namespace: fc.constantFrom('cleartalk', 'custom'),
          key: fc.constantFrom('contact_id', 'x'),
          value: fc.option(fc.oneof(messyText, fc.integer(), fc.boolean())),
        }),
      ),
    ),
  };
  const shopifyCustomer = fc.record(
    { ...customerFields, updated_at: timestamp },
    { requiredKeys: ['id', 'updated_at'] },
  );

  it('mapShopifyCustomer never throws and returns a valid job or nothing', () => {
    let mapped = 0;
    fc.assert(
      fc.property(shopifyCustomer, fc.constantFrom('US', 'GB', 'ZZ'), (raw, region) => {
        const parsed = ShopifyCustomerSchema.safeParse(raw);
        if (!parsed.success) return;
        mapped += 1;
        const outcome = mapShopifyCustomer(parsed.data, {
          shop: 'x.myshopify.com',
          config: parseMappingConfig({}, 'test'),
          defaultPhoneRegion: region,
        });
        expectValidOutcome(outcome);
        // A customer always has an externalKey, so it always yields a job.
        expect(outcome.kind).toBe('job');
      }),
      runs,
    );
    // Guard against a vacuous property: most generated customers must reach the mapper.
    expect(mapped).toBeGreaterThan(runs.numRuns / 2);
  });

  it('mapShopifyOrder never throws and returns a valid job or nothing', () => {
    const orderArb = fc.record(
      {
        id: fc.integer({ min: 1 }),
        name: fc.option(messyText),
        email: fc.option(messyText),
        contact_email: fc.option(messyText),
        phone: fc.option(messyText),
        customer: fc.option(fc.record(customerFields, { requiredKeys: ['id'] })),
        billing_address: address,
        shipping_address: address,
        total_price: fc.option(fc.oneof(fc.string(), fc.double({ noNaN: true }))),
        currency: fc.option(fc.string()),
        processed_at: fc.option(timestamp),
        updated_at: timestamp,
      },
      { requiredKeys: ['id', 'updated_at'] },
    );
    let mapped = 0;
    fc.assert(
      fc.property(orderArb, (raw) => {
        const parsed = ShopifyOrderSchema.safeParse(raw);
        if (!parsed.success) return;
        mapped += 1;
        expectValidOutcome(
          mapShopifyOrder(parsed.data, {
            shop: 'x.myshopify.com',
            config: parseMappingConfig({}, 'test'),
            defaultPhoneRegion: 'US',
          }),
        );
      }),
      runs,
    );
    expect(mapped).toBeGreaterThan(runs.numRuns / 2);
  });

  it('a GraphQL node and its webhook twin always map to the same jobId and patch', () => {
    const node = fc.record({
      id: fc.bigInt({ min: 1n, max: 10n ** 18n }).map((id) => `gid://shopify/Customer/${id}`),
      firstName: fc.option(messyText),
      lastName: fc.option(messyText),
      defaultEmailAddress: fc.option(fc.record({ emailAddress: fc.option(messyText) })),
      defaultPhoneNumber: fc.option(fc.record({ phoneNumber: fc.option(messyText) })),
      state: fc.option(fc.constantFrom('ENABLED', 'DISABLED', 'INVITED', 'DECLINED')),
      updatedAt: timestamp,
      defaultAddress: fc.option(
        fc.record({
          city: fc.option(messyText),
          country: fc.option(messyText),
          countryCodeV2: fc.option(fc.constantFrom('US', 'GB', 'DE')),
        }),
      ),
    });
    fc.assert(
      fc.property(node, (raw) => {
        const converted = shopifyCustomerFromGraphql(ShopifyGraphqlCustomerSchema.parse(raw));
        const context = {
          shop: 'x.myshopify.com',
          config: parseMappingConfig({}, 't'),
          defaultPhoneRegion: 'US',
        };
        const direct = mapShopifyCustomer(converted, context);
        // The same customer as a webhook would send it: state lower-case, local offset, numeric id.
        const twin = ShopifyCustomerSchema.parse({
          id: converted.id,
          admin_graphql_api_id: raw.id,
          updated_at: converted.updated_at,
          first_name: raw.firstName,
          last_name: raw.lastName,
          email: raw.defaultEmailAddress?.emailAddress ?? null,
          phone: raw.defaultPhoneNumber?.phoneNumber ?? null,
          state: raw.state?.toLowerCase() ?? null,
          default_address: raw.defaultAddress
            ? {
                city: raw.defaultAddress.city,
                country: raw.defaultAddress.country,
                country_code: raw.defaultAddress.countryCodeV2,
              }
            : null,
        });
        const viaWebhook = mapShopifyCustomer(twin, context);
        expectValidOutcome(direct);
        expect(direct).toEqual(viaWebhook);
      }),
      runs,
    );
  });
});
