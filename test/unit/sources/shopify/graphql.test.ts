import { describe, expect, it } from 'vitest';
import { parseMappingConfig } from '../../../../lib/sources/mapping-config.js';
import {
  SHOPIFY_CUSTOMER_GRAPHQL_FIELDS,
  ShopifyGraphqlCustomerSchema,
  shopifyCustomerFromGraphql,
  shopifyCustomerGraphqlFields,
} from '../../../../lib/sources/shopify/graphql.js';
import { mapShopifyCustomer } from '../../../../lib/sources/shopify/mapper.js';
import { ShopifyCustomerSchema } from '../../../../lib/sources/shopify/schema.js';
import { loadFixture } from '../load-fixture.js';

const context = {
  shop: 'cleartalk-demo.myshopify.com',
  config: parseMappingConfig({}, 'test'),
  defaultPhoneRegion: 'US',
};

function graphqlNode(overrides: Record<string, unknown> = {}) {
  return ShopifyGraphqlCustomerSchema.parse({
    ...loadFixture('shopify/graphql-customer.json'),
    ...overrides,
  });
}

describe('shopifyCustomerFromGraphql', () => {
  it('gives a GraphQL node and its webhook twin the SAME jobId and patch', () => {
    const fromWebhook = mapShopifyCustomer(
      ShopifyCustomerSchema.parse(loadFixture('shopify/customer.json')),
      context,
    );
    const fromGraphql = mapShopifyCustomer(shopifyCustomerFromGraphql(graphqlNode()), {
      ...context,
      source: 'backfill:shopify',
    });
    if (fromWebhook.kind !== 'job' || fromGraphql.kind !== 'job') throw new Error('expected two jobs');
    // The webhook says 10:00-05:00, GraphQL says 15:00Z: one change, one jobId.
    expect(fromGraphql.job.jobId).toBe(
      'shopify:cleartalk-demo.myshopify.com:customer:706405506930370084:2026-11-26T15:00:00Z',
    );
    expect(fromGraphql.job.jobId).toBe(fromWebhook.job.jobId);
    expect(fromGraphql.job.patch).toEqual(fromWebhook.job.patch);
    expect(fromGraphql.job.match).toEqual(fromWebhook.job.match);
    expect(fromGraphql.job.contactId).toBe('4711');
    expect(fromGraphql.job.occurredAt).toBe(fromWebhook.job.occurredAt);
  });

  it('converts ids, states and addresses to the webhook shape', () => {
    const customer = shopifyCustomerFromGraphql(graphqlNode());
    expect(customer).toMatchObject({
      id: '706405506930370084',
      admin_graphql_api_id: 'gid://shopify/Customer/706405506930370084',
      state: 'enabled',
      email: 'bob.norman@mailhost.example',
      phone: '+16135550135',
      default_address: { city: 'Louisville', country_code: 'US' },
      metafields: [{ namespace: 'cleartalk', key: 'contact_id', value: '4711' }],
    });
    // The converted customer is itself a valid webhook customer.
    expect(ShopifyCustomerSchema.parse(customer)).toEqual(customer);
  });

  it('handles a node without email, phone, address or metafield', () => {
    const customer = shopifyCustomerFromGraphql(
      graphqlNode({
        defaultEmailAddress: null,
        defaultPhoneNumber: null,
        defaultAddress: null,
        metafield: null,
      }),
    );
    expect(customer).toMatchObject({ email: null, phone: null, default_address: null, metafields: [] });
    const outcome = mapShopifyCustomer(customer, context);
    expect(outcome.kind === 'job' && outcome.job.match).toEqual({
      externalKey: 'shopify:cleartalk-demo.myshopify.com:customer:706405506930370084',
    });
  });

  it('names the metafield from the node, else from the configured one', () => {
    const node = graphqlNode({ metafield: { value: '12' } });
    expect(shopifyCustomerFromGraphql(node, { namespace: 'custom', key: 'ct' }).metafields).toEqual([
      { namespace: 'custom', key: 'ct', value: '12' },
    ]);
  });

  it('rejects a node whose id is not a customer gid', () => {
    expect(ShopifyGraphqlCustomerSchema.safeParse({ ...graphqlNode(), id: '123' }).success).toBe(false);
    expect(
      ShopifyGraphqlCustomerSchema.safeParse({ ...graphqlNode(), id: 'gid://shopify/Order/1' }).success,
    ).toBe(false);
  });
});

describe('SHOPIFY_CUSTOMER_GRAPHQL_FIELDS', () => {
  it('selects every field the converter reads', () => {
    for (const name of [
      'id',
      'firstName',
      'lastName',
      'defaultEmailAddress { emailAddress }',
      'defaultPhoneNumber { phoneNumber }',
      'state',
      'updatedAt',
      'defaultAddress { city province country countryCodeV2 zip phone }',
      'metafield(namespace: "cleartalk", key: "contact_id") { namespace key value }',
    ]) {
      expect(SHOPIFY_CUSTOMER_GRAPHQL_FIELDS).toContain(name);
    }
  });

  it('quotes a configured metafield safely', () => {
    expect(shopifyCustomerGraphqlFields({ namespace: 'my"ns', key: 'k' })).toContain(
      'metafield(namespace: "my\\"ns", key: "k")',
    );
  });
});
