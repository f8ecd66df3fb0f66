import { describe, expect, it } from 'vitest';
import type { SecretReader } from '../../../lib/aws/secrets.js';
import { createBackfillDeps, typeformPacerFor } from '../../../lib/backfill/create-backfill.js';
import { loadConfig } from '../../../lib/config.js';
import { parseMappingConfig } from '../../../lib/sources/mapping-config.js';

const secrets: SecretReader = { get: async (id) => ({ value: `token-of-${id}` }) };
const clients = { sqs: { send: async () => ({}) }, dynamodb: { send: async () => ({}) }, secrets } as never;
const base = { PATCH_QUEUE_URL: 'https://sqs.local/q.fifo', STATE_TABLE_NAME: 'state' };
const mapping = parseMappingConfig({}, 'test');

describe('createBackfillDeps', () => {
  it('configures only the sources whose settings are present', () => {
    const none = createBackfillDeps(loadConfig(base, ['PATCH_QUEUE_URL', 'STATE_TABLE_NAME']), clients, {
      mapping,
    });
    expect(none.typeform).toBeUndefined();
    expect(none.shopify).toBeUndefined();

    const shopOnly = createBackfillDeps(
      loadConfig({ ...base, SHOPIFY_SHOP_DOMAIN: 'a.myshopify.com' }, [
        'PATCH_QUEUE_URL',
        'STATE_TABLE_NAME',
      ]),
      clients,
      { mapping },
    );
    expect(shopOnly.shopify).toBeUndefined();
  });

  it('reads Typeform from the EU base and Shopify from the shop domain, tokens from Secrets Manager', async () => {
    const config = loadConfig(
      {
        ...base,
        TYPEFORM_API_TOKEN_SECRET_ID: 'tf',
        TYPEFORM_API_BASE_URL: 'https://api.eu.typeform.com',
        SHOPIFY_SHOP_DOMAIN: 'a.myshopify.com',
        SHOPIFY_ADMIN_TOKEN_SECRET_ID: 'sh',
      },
      ['PATCH_QUEUE_URL', 'STATE_TABLE_NAME'],
    );
    const deps = createBackfillDeps(config, clients, { mapping });
    expect(deps.typeform?.baseUrl).toBe('https://api.eu.typeform.com');
    expect(await deps.typeform?.getToken()).toBe('token-of-tf');
    expect(deps.shopify).toMatchObject({
      baseUrl: 'https://a.myshopify.com',
      shop: 'a.myshopify.com',
      apiVersion: '2026-10',
    });
    expect(await deps.shopify?.getToken()).toBe('token-of-sh');
  });
});

describe('typeformPacerFor', () => {
  it('shares one pacer per Typeform account, so forms and warm invocations queue together', () => {
    const now = () => 0;
    const sleep = async () => {};
    const table = { client: { send: async () => ({}) }, tableName: 'state' } as never;
    expect(typeformPacerFor('https://api.typeform.com|a', table, now, sleep)).toBe(
      typeformPacerFor('https://api.typeform.com|a', table, now, sleep),
    );
    expect(typeformPacerFor('https://api.typeform.com|a', table, now, sleep)).not.toBe(
      typeformPacerFor('https://api.typeform.com|b', table, now, sleep),
    );
  });
});
