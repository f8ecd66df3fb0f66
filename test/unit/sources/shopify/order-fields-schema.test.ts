import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadMappingConfig } from '../../../../lib/sources/mapping-config.js';
import { mapShopifyOrder } from '../../../../lib/sources/shopify/mapper.js';
import { ShopifyOrderFieldsSchema, ShopifyOrderSchema } from '../../../../lib/sources/shopify/schema.js';
import { loadFixture } from '../load-fixture.js';

const context = { shop: 'shop.myshopify.com', config: loadMappingConfig(''), defaultPhoneRegion: 'US' };
const fixtures = ['shopify/order.json', 'shopify/guest-order.json'];

describe('ShopifyOrderFieldsSchema (the webhook path’s order schema)', () => {
  it.each(fixtures)('gives %s the same mapped job as ShopifyOrderSchema', (path) => {
    const payload = loadFixture(path);
    const loose = ShopifyOrderSchema.parse(payload);
    const fields = ShopifyOrderFieldsSchema.parse(payload);
    expect(mapShopifyOrder(fields, context)).toEqual(mapShopifyOrder(loose, context));
  });

  it('drops the keys the mapper does not read instead of copying them', () => {
    const fields = ShopifyOrderFieldsSchema.parse(loadFixture('shopify/order.json'));
    expect(fields).not.toHaveProperty('line_items');
    expect(ShopifyOrderSchema.parse(loadFixture('shopify/order.json'))).toHaveProperty('line_items');
  });

  it('accepts and rejects the same payloads as ShopifyOrderSchema, with the same issue paths', () => {
    const values = fc.oneof(
      fc.constant(undefined),
      fc.constant(null),
      fc.string(),
      fc.integer(),
      fc.double(),
      fc.constant('2026-11-26T10:00:00-05:00'),
      fc.constant('gid://shopify/Order/820982911946154508'),
      fc.constant({ id: 1, updated_at: 'x', default_address: { phone: 5 } }),
      fc.constant({ id: 7, metafields: [{ namespace: 'cleartalk', key: 'contact_id', value: [] }] }),
    );
    const keys = fc.constantFrom(
      'id',
      'admin_graphql_api_id',
      'email',
      'phone',
      'updated_at',
      'created_at',
      'total_price',
      'customer',
      'billing_address',
      'shipping_address',
      'line_items',
    );
    const nested = fc.constantFrom(
      ['customer', 'id'],
      ['customer', 'email'],
      ['customer', 'default_address', 'country_code'],
      ['customer', 'metafields'],
      ['billing_address', 'phone'],
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(keys, values), { maxLength: 3 }),
        fc.option(fc.tuple(nested, values), { nil: undefined }),
        fc.constantFrom(...fixtures),
        (edits, deep, path) => {
          const payload = loadFixture<Record<string, unknown>>(path);
          for (const [key, value] of edits) payload[key] = value;
          if (deep) {
            const [[first, ...rest], value] = deep;
            let target = payload[first as string];
            if (typeof target === 'object' && target !== null) {
              for (const key of rest.slice(0, -1)) target = (target as Record<string, unknown>)[key];
              if (typeof target === 'object' && target !== null)
                (target as Record<string, unknown>)[rest.at(-1) as string] = value;
            }
          }
          const loose = ShopifyOrderSchema.safeParse(payload);
          const fields = ShopifyOrderFieldsSchema.safeParse(payload);
          expect(fields.success).toBe(loose.success);
          if (!loose.success && !fields.success) {
            expect(fields.error.issues.map((i) => i.path)).toEqual(loose.error.issues.map((i) => i.path));
          }
          if (loose.success && fields.success) {
            expect(mapShopifyOrder(fields.data, context)).toEqual(mapShopifyOrder(loose.data, context));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
