import { describe, expect, it } from 'vitest';
import { PatchJobSchema } from '../../../../lib/jobs/patch-job.js';
import { parseMappingConfig } from '../../../../lib/sources/mapping-config.js';
import type { MapOutcome } from '../../../../lib/sources/outcome.js';
import { mapShopifyCustomer, mapShopifyOrder } from '../../../../lib/sources/shopify/mapper.js';
import {
  type ShopifyCustomerInput,
  ShopifyCustomerSchema,
  type ShopifyOrderInput,
  ShopifyOrderSchema,
} from '../../../../lib/sources/shopify/schema.js';
import { loadFixture } from '../load-fixture.js';

const shop = 'cleartalk-demo.myshopify.com';
const context = { shop, config: parseMappingConfig({}, 'test'), defaultPhoneRegion: 'US' };

function job(outcome: MapOutcome) {
  if (outcome.kind !== 'job') throw new Error(`expected a job, got nothing: ${outcome.reason}`);
  expect(PatchJobSchema.safeParse(outcome.job).success).toBe(true);
  return outcome.job;
}

const customer = (overrides: Partial<ShopifyCustomerInput> = {}) =>
  ShopifyCustomerSchema.parse({ ...loadFixture('shopify/customer.json'), ...overrides });
const order = (fixture: string, overrides: Partial<ShopifyOrderInput> = {}) =>
  ShopifyOrderSchema.parse({ ...loadFixture(`shopify/${fixture}.json`), ...overrides });

describe('mapShopifyCustomer', () => {
  it('maps customers/update: UTC jobId, externalKey, metafield contact id, facts', () => {
    const outcome = mapShopifyCustomer(customer(), context);
    expect(job(outcome)).toEqual({
      version: 1,
      jobId: 'shopify:cleartalk-demo.myshopify.com:customer:706405506930370084:2026-11-26T15:00:00Z',
      source: 'shopify',
      contactId: '4711',
      match: {
        externalKey: 'shopify:cleartalk-demo.myshopify.com:customer:706405506930370084',
        email: 'bob.norman@mailhost.example',
        phone: '+16135550135',
      },
      patch: {
        firstName: 'Bob',
        lastName: 'Norman',
        email: 'bob.norman@mailhost.example',
        phone: '+16135550135',
        customField: {
          shopify_customer_id: '706405506930370084',
          shopify_customer_state: 'enabled',
          shopify_city: 'Louisville',
          shopify_country: 'United States',
          shopify_country_code: 'US',
        },
      },
      occurredAt: '2026-11-26T15:00:00Z',
    });
    expect(outcome.dropped).toEqual([]);
  });

  it('gives the same jobId for the same updated_at written in another zone', () => {
    const local = job(mapShopifyCustomer(customer({ updated_at: '2026-11-26T10:00:00-05:00' }), context));
    const utc = job(mapShopifyCustomer(customer({ updated_at: '2026-11-26T15:00:00Z' }), context));
    const later = job(mapShopifyCustomer(customer({ updated_at: '2026-11-26T10:00:01-05:00' }), context));
    expect(utc.jobId).toBe(local.jobId);
    expect(later.jobId).not.toBe(local.jobId);
  });

  it('maps a customer with a null phone and no email by externalKey alone', () => {
    const outcome = mapShopifyCustomer(
      customer({ phone: null, email: null, metafields: null, default_address: null }),
      context,
    );
    const mapped = job(outcome);
    expect(mapped.match).toEqual({
      externalKey: 'shopify:cleartalk-demo.myshopify.com:customer:706405506930370084',
    });
    expect(mapped.patch).not.toHaveProperty('phone');
    expect(mapped).not.toHaveProperty('contactId');
    expect(outcome.dropped).toEqual([]);
  });

  it('keeps unicode names, trimmed and composed', () => {
    const mapped = job(
      mapShopifyCustomer(customer({ first_name: '  Zoe\u0308 ', last_name: 'Ó  Súilleabháin' }), context),
    );
    expect(mapped.patch.firstName).toBe('Zoë');
    expect(mapped.patch.lastName).toBe('Ó Súilleabháin');
  });

  it('drops a bad email or phone by name and still sends the rest', () => {
    const outcome = mapShopifyCustomer(customer({ email: 'bob at example', phone: '12' }), context);
    const mapped = job(outcome);
    expect(mapped.patch).not.toHaveProperty('email');
    expect(mapped.patch.firstName).toBe('Bob');
    expect(outcome.dropped).toEqual([
      { field: 'email', reason: 'not a valid email address' },
      { field: 'phone', reason: 'not a valid phone number' },
    ]);
    expect(JSON.stringify(outcome.dropped)).not.toContain('bob at example');
  });

  it("reads a national phone in the customer's country, else the default region", () => {
    const gb = customer({
      phone: '07911 123456',
      default_address: { city: 'Leeds', country: 'United Kingdom', country_code: 'GB' },
    });
    expect(job(mapShopifyCustomer(gb, context)).patch.phone).toBe('+447911123456');
    const noAddress = customer({ phone: '(213) 373-4253', default_address: null });
    expect(job(mapShopifyCustomer(noAddress, context)).patch.phone).toBe('+12133734253');
  });

  it('drops a metafield contact id that is not a positive integer', () => {
    const outcome = mapShopifyCustomer(
      customer({ metafields: [{ namespace: 'cleartalk', key: 'contact_id', value: 'abc' }] }),
      context,
    );
    expect(job(outcome)).not.toHaveProperty('contactId');
    expect(outcome.dropped).toEqual([
      { field: 'metafields.cleartalk.contact_id', reason: 'not a positive integer contact id' },
    ]);
  });

  it('reads the contact id from the metafield the shop configures, and applies shop labels', () => {
    const config = parseMappingConfig(
      {
        shopify: {
          defaults: { contactSource: 'Shopify' },
          shops: { [shop]: { contactIdMetafield: { namespace: 'custom', key: 'ct' }, listName: 'Demo' } },
        },
      },
      'test',
    );
    const mapped = job(
      mapShopifyCustomer(
        customer({
          metafields: [
            { namespace: 'cleartalk', key: 'contact_id', value: '1' },
            { namespace: 'custom', key: 'ct', value: 99 },
          ],
        }),
        { ...context, config },
      ),
    );
    expect(mapped.contactId).toBe('99');
    expect(mapped.patch).toMatchObject({ listName: 'Demo', contactSource: 'Shopify' });
  });

  it("ignores another app's metafield with the same key in another namespace", () => {
    const outcome = mapShopifyCustomer(
      customer({ metafields: [{ namespace: 'other_app', key: 'contact_id', value: '5' }] }),
      context,
    );
    expect(job(outcome)).not.toHaveProperty('contactId');
    expect(outcome.dropped).toEqual([]);
  });

  it('writes address facts trimmed, with an upper-case country code', () => {
    const base = customer();
    const address = { ...base.default_address, city: '  Louisville ', country_code: ' us ' };
    const mapped = job(mapShopifyCustomer({ ...base, default_address: address }, context));
    expect(mapped.patch.customField).toMatchObject({
      shopify_city: 'Louisville',
      shopify_country_code: 'US',
    });
  });

  it('writes the customer state in lower case (GraphQL spells it ENABLED)', () => {
    const mapped = job(mapShopifyCustomer(customer({ state: ' ENABLED ' }), context));
    expect(mapped.patch.customField).toMatchObject({ shopify_customer_state: 'enabled' });
  });

  it('uses the source the caller names', () => {
    expect(job(mapShopifyCustomer(customer(), { ...context, source: 'backfill:shopify' })).source).toBe(
      'backfill:shopify',
    );
  });
});

describe('mapShopifyOrder', () => {
  it('maps an order: customer contact data plus last-order facts', () => {
    const outcome = mapShopifyOrder(order('order'), context);
    expect(job(outcome)).toEqual({
      version: 1,
      jobId: 'shopify:cleartalk-demo.myshopify.com:order:820982911946154508:2026-11-26T07:06:00Z',
      source: 'shopify',
      match: {
        externalKey: 'shopify:cleartalk-demo.myshopify.com:customer:115310627314723954',
        email: 'jon@example.com',
        phone: '+49301234567',
      },
      patch: {
        firstName: 'Jon',
        lastName: 'Snöw',
        email: 'jon@example.com',
        phone: '+49301234567',
        customField: {
          shopify_customer_id: '115310627314723954',
          shopify_customer_state: 'disabled',
          shopify_city: 'Berlin',
          shopify_country: 'Germany',
          shopify_country_code: 'DE',
          shopify_last_order_id: '820982911946154508',
          shopify_last_order_name: '#1001',
          shopify_last_order_total: '129.90 EUR',
          shopify_last_order_date: '2026-11-26',
        },
      },
      occurredAt: '2026-11-26T07:06:00Z',
    });
  });

  it('maps a guest order by its contact_email and billing phone, without an externalKey', () => {
    const outcome = mapShopifyOrder(order('guest-order'), context);
    expect(job(outcome)).toEqual({
      version: 1,
      jobId: 'shopify:cleartalk-demo.myshopify.com:order:450789469:2026-11-26T02:31:02Z',
      source: 'shopify',
      match: { email: 'guest.buyer@example.org', phone: '+14089961010' },
      patch: {
        firstName: 'Maria',
        lastName: 'García',
        email: 'guest.buyer@example.org',
        phone: '+14089961010',
        customField: {
          shopify_last_order_id: '450789469',
          shopify_last_order_name: '#1002',
          shopify_last_order_total: '19.99 USD',
          shopify_last_order_date: '2026-11-25',
        },
      },
      occurredAt: '2026-11-26T02:31:02Z',
    });
    expect(outcome.dropped).toEqual([]);
  });

  it("reads a guest's national phone in the billing country, not the shipping one", () => {
    const gift = order('guest-order', { shipping_address: { first_name: 'Max', country_code: 'DE' } });
    expect(job(mapShopifyOrder(gift, context)).match?.phone).toBe('+14089961010');
  });

  it("matches by the customer's own email and phone before the order's", () => {
    const base = order('order');
    const customer = base.customer ? { ...base.customer, phone: '+49301234567' } : null;
    const mapped = job(
      mapShopifyOrder({ ...base, customer, email: 'checkout@example.com', phone: '+49309999999' }, context),
    );
    expect(mapped.match).toMatchObject({ email: 'jon@example.com', phone: '+49301234567' });
  });

  it('prefers the order email over contact_email for a guest', () => {
    const mapped = job(mapShopifyOrder(order('guest-order', { email: 'Order@Example.org' }), context));
    expect(mapped.match?.email).toBe('order@example.org');
  });

  it('says nothing to update for a guest order with no email or phone at all', () => {
    const outcome = mapShopifyOrder(
      order('guest-order', { contact_email: null, email: null, billing_address: null }),
      context,
    );
    expect(outcome).toEqual({
      kind: 'nothing',
      reason: 'no contact id, email or phone to find the contact by',
      dropped: [],
    });
  });

  it('falls back to the next email candidate when the first cannot be normalised', () => {
    const base = loadFixture<{ customer: Record<string, unknown> }>('shopify/order.json');
    const withBadCustomerEmail = ShopifyOrderSchema.parse({
      ...base,
      customer: { ...base.customer, email: 'nope' },
    });
    const outcome = mapShopifyOrder(withBadCustomerEmail, context);
    expect(job(outcome).patch.email).toBe('jon@example.com');
    expect(outcome.dropped).toEqual([]);
  });

  it('dates the last order by processed_at, else created_at, as the shop wrote it', () => {
    const date = (overrides: Partial<ShopifyOrderInput>) =>
      job(mapShopifyOrder(order('order', overrides), context)).patch.customField?.shopify_last_order_date;
    expect(date({ created_at: '2026-11-20T23:30:00-05:00', processed_at: '2026-11-24T23:30:00-05:00' })).toBe(
      '2026-11-24',
    );
    expect(date({ created_at: '2026-11-20T23:30:00-05:00', processed_at: null })).toBe('2026-11-20');
  });

  it('writes the total without currency when the order has none', () => {
    const mapped = job(mapShopifyOrder(order('guest-order', { currency: null, total_price: 5 }), context));
    expect(mapped.patch.customField?.shopify_last_order_total).toBe('5');
  });
});
