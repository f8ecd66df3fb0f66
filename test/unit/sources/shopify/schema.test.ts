import { describe, expect, it } from 'vitest';
import {
  parseShopifyJson,
  ShopifyCustomerDeleteSchema,
  ShopifyCustomerSchema,
  ShopifyCustomersRedactSchema,
  ShopifyDataRequestSchema,
  ShopifyOrderSchema,
  ShopifyShopRedactSchema,
} from '../../../../lib/sources/shopify/schema.js';
import { loadFixture } from '../load-fixture.js';

describe('Shopify payload schemas', () => {
  it('parses customers/create|update and keeps unknown fields', () => {
    const parsed = ShopifyCustomerSchema.parse(loadFixture('shopify/customer.json'));
    expect(parsed).toMatchObject({ first_name: 'Bob', state: 'enabled', orders_count: 0 });
    expect(parsed.metafields?.[0]).toMatchObject({
      namespace: 'cleartalk',
      key: 'contact_id',
      value: '4711',
    });
  });

  it('takes the exact id from admin_graphql_api_id, which JSON numbers above 2^53 lose', () => {
    const raw = loadFixture('shopify/customer.json');
    expect(raw.id).toBe(706405506930370000); // what JSON.parse made of 706405506930370084
    expect(ShopifyCustomerSchema.parse(raw).id).toBe('706405506930370084');
    const order = ShopifyOrderSchema.parse(loadFixture('shopify/order.json'));
    expect(order.id).toBe('820982911946154508');
    expect(order.customer?.id).toBe('115310627314723954');
  });

  it('keeps a numeric id as a decimal string when there is no gid', () => {
    expect(ShopifyCustomerSchema.parse({ id: 207119551, updated_at: '2026-11-26T10:00:00-05:00' }).id).toBe(
      '207119551',
    );
    expect(ShopifyCustomerSchema.parse({ id: '207119551', updated_at: '2026-11-26T10:00:00Z' }).id).toBe(
      '207119551',
    );
  });

  it('accepts a null phone, email and address', () => {
    const parsed = ShopifyCustomerSchema.parse({
      id: 1,
      updated_at: '2026-11-26T10:00:00-05:00',
      phone: null,
      email: null,
      default_address: null,
    });
    expect(parsed.phone).toBeNull();
  });

  it.each([
    ['a missing id', { updated_at: '2026-11-26T10:00:00Z' }],
    ['a zero id', { id: 0, updated_at: '2026-11-26T10:00:00Z' }],
    ['a fractional id', { id: 1.5, updated_at: '2026-11-26T10:00:00Z' }],
    ['a missing updated_at', { id: 1 }],
    ['an updated_at without offset', { id: 1, updated_at: '2026-11-26T10:00:00' }],
    ['a numeric first_name', { id: 1, updated_at: '2026-11-26T10:00:00Z', first_name: 5 }],
  ])('rejects a customer with %s', (_name, payload) => {
    expect(ShopifyCustomerSchema.safeParse(payload).success).toBe(false);
  });

  it('parses an order with a customer and a guest order without one', () => {
    expect(ShopifyOrderSchema.parse(loadFixture('shopify/order.json')).customer).toBeTruthy();
    const guest = ShopifyOrderSchema.parse(loadFixture('shopify/guest-order.json'));
    expect(guest.customer).toBeUndefined();
    expect(guest.contact_email).toBe('Guest.Buyer@Example.org');
  });

  it('parses customers/delete', () => {
    expect(ShopifyCustomerDeleteSchema.parse(loadFixture('shopify/customer-delete.json')).id).toBe(
      '706405506930370084',
    );
    expect(ShopifyCustomerDeleteSchema.parse({ id: 42 }).id).toBe('42');
    expect(ShopifyCustomerDeleteSchema.safeParse({}).success).toBe(false);
  });

  it('parses the compliance payloads', () => {
    expect(ShopifyCustomersRedactSchema.parse(loadFixture('shopify/customers-redact.json'))).toMatchObject({
      shop_domain: 'cleartalk-demo.myshopify.com',
      customer: { id: '706405506930370000' },
      orders_to_redact: ['299938', '280263', '220458'],
    });
    expect(ShopifyShopRedactSchema.parse(loadFixture('shopify/shop-redact.json'))).toMatchObject({
      shop_id: '954889',
      shop_domain: 'cleartalk-demo.myshopify.com',
    });
    expect(ShopifyDataRequestSchema.parse(loadFixture('shopify/customers-data-request.json'))).toMatchObject({
      data_request: { id: '9999' },
    });
    expect(ShopifyShopRedactSchema.safeParse({ shop_id: 1 }).success).toBe(false);
    expect(ShopifyCustomersRedactSchema.safeParse({ shop_domain: 'x.myshopify.com' }).success).toBe(false);
  });
});

describe('parseShopifyJson', () => {
  it('keeps integers above 2^53 exact as strings, so compliance payloads keep the real id', () => {
    const body =
      '{"shop_domain":"s.myshopify.com","customer":{"id":706405506930370084,"email":"a@b.co"},"n":12}';
    const parsed = parseShopifyJson(body);
    expect(parsed).toEqual({
      shop_domain: 's.myshopify.com',
      customer: { id: '706405506930370084', email: 'a@b.co' },
      n: 12,
    });
    expect(ShopifyCustomersRedactSchema.parse(parsed).customer.id).toBe('706405506930370084');
  });

  it('leaves safe integers, decimals, exponents and digits inside strings alone', () => {
    const body =
      '{"id":9007199254740991,"price":1234567890123456.5,"e":1e21,"neg":-12345678901234567890,"note":"call 7064055069303700841 \\"now\\"","a":[12345678901234567890]}';
    expect(parseShopifyJson(body)).toEqual({
      id: 9007199254740991,
      price: 1234567890123456.5,
      e: 1e21,
      neg: Number(-12345678901234567890n), // left a (rounded) number, not quoted
      note: 'call 7064055069303700841 "now"',
      a: ['12345678901234567890'],
    });
  });

  it('parses a body without long numbers exactly like JSON.parse and throws on invalid JSON', () => {
    const text = JSON.stringify(loadFixture('shopify/guest-order.json'));
    expect(parseShopifyJson(text)).toEqual(JSON.parse(text));
    expect(() => parseShopifyJson('{"id": 7064055069303700841')).toThrow(SyntaxError);
    expect(() => parseShopifyJson('not json')).toThrow(SyntaxError);
  });
});
