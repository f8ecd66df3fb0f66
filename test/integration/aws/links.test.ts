import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createLinkStore,
  createMemoryLinkStore,
  type LinkStore,
  shopifyCustomerKey,
} from '../../../lib/aws/links.js';
import { provisionStack } from '../../../tools/provision.js';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
let tableName = '';

beforeAll(async () => {
  ({ STATE_TABLE_NAME: tableName } = await provisionStack({ prefix: `links-${randomUUID().slice(0, 8)}` }));
});

function shop(): string {
  return `s${randomUUID().slice(0, 8)}.myshopify.com`;
}

const stores: Array<[string, () => LinkStore]> = [
  ['DynamoDB on moto', () => createLinkStore({ client, tableName })],
  ['memory', () => createMemoryLinkStore()],
];

describe.each(stores)('link store (%s)', (_name, makeStore) => {
  it('resolves by externalKey before email before phone', async () => {
    const store = makeStore();
    const id = randomUUID();
    const key = `shopify:${shop()}:customer:1`;
    await store.putLinks('10', { email: `${id}@example.com` });
    await store.putLinks('20', { phone: '+15550001111' });
    await store.putLinks('30', { externalKey: key });

    expect(await store.resolve({ externalKey: key, email: `${id}@example.com`, phone: '+15550001111' })).toBe(
      '30',
    );
    expect(await store.resolve({ externalKey: `${key}9`, email: `${id}@example.com` })).toBe('10');
    expect(await store.resolve({ email: `other-${id}@example.com`, phone: '+15550001111' })).toBe('20');
    expect(await store.resolve({ email: `nobody-${id}@example.com` })).toBeUndefined();
  });

  it('matches emails regardless of case and surrounding spaces', async () => {
    const store = makeStore();
    const id = randomUUID();
    await store.putLinks('41', { email: ` Ada.${id}@Example.COM ` });
    expect(await store.resolve({ email: `ada.${id}@example.com` })).toBe('41');
  });

  it('lets the latest link win', async () => {
    const store = makeStore();
    const key = `shopify:${shop()}:customer:7`;
    await store.putLinks('1', { externalKey: key });
    await store.putLinks('2', { externalKey: key });
    expect(await store.resolve({ externalKey: key })).toBe('2');
  });

  it('removes a customer with the email and phone links learned with it, and nothing else', async () => {
    const store = makeStore();
    const domain = shop();
    const id = randomUUID();
    await store.putLinks('5', {
      externalKey: shopifyCustomerKey(domain, '42'),
      email: `c-${id}@x.io`,
      phone: '+15550002222',
    });
    await store.putLinks('6', { externalKey: shopifyCustomerKey(domain, '43'), email: `d-${id}@x.io` });
    await store.putLinks('8', { email: `extra-${id}@x.io` });

    const removed = await store.removeCustomerLinks(domain, '42', { email: `extra-${id}@x.io` });

    expect(removed).toBe(4);
    expect(await store.resolve({ externalKey: shopifyCustomerKey(domain, '42') })).toBeUndefined();
    expect(await store.resolve({ email: `c-${id}@x.io` })).toBeUndefined();
    expect(await store.resolve({ phone: '+15550002222' })).toBeUndefined();
    expect(await store.resolve({ email: `extra-${id}@x.io` })).toBeUndefined();
    expect(await store.resolve({ externalKey: shopifyCustomerKey(domain, '43') })).toBe('6');
    expect(await store.resolve({ email: `d-${id}@x.io` })).toBe('6');
    expect(await store.removeCustomerLinks(domain, '42')).toBe(0);
  });

  it('removes every customer link of one shop (more than one batch) and leaves other shops alone', async () => {
    const store = makeStore();
    const domain = shop();
    const other = shop();
    const id = randomUUID();
    for (let i = 0; i < 30; i++) {
      await store.putLinks(String(100 + i), {
        externalKey: shopifyCustomerKey(domain, String(i)),
        email: `${i}-${id}@x.io`,
      });
    }
    await store.putLinks('999', { externalKey: shopifyCustomerKey(other, '1') });

    expect(await store.removeShopLinks(domain)).toBe(60);
    for (const i of [0, 17, 29]) {
      expect(await store.resolve({ externalKey: shopifyCustomerKey(domain, String(i)) })).toBeUndefined();
      expect(await store.resolve({ email: `${i}-${id}@x.io` })).toBeUndefined();
    }
    expect(await store.resolve({ externalKey: shopifyCustomerKey(other, '1') })).toBe('999');
  });
});

describe('link store on DynamoDB', () => {
  it('stores emails and phones only as hashes', async () => {
    const store = createLinkStore({ client, tableName });
    const id = randomUUID();
    await store.putLinks('77', {
      externalKey: shopifyCustomerKey(shop(), '1'),
      email: `plain-${id}@x.io`,
      phone: '+15550003333',
    });
    const items = await client.send(new ScanCommand({ TableName: tableName }));
    const text = JSON.stringify(items.Items);
    expect(text).toContain('"contactId":"77"');
    expect(text).not.toContain(`plain-${id}`);
    expect(text).not.toContain('15550003333');
  });
});
