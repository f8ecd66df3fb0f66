import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createLinkStore, createMemoryLinkStore } from '../../../lib/aws/links.js';
import { phoneLinkKey } from '../../../lib/aws/state-keys.js';
import { DependencyError } from '../../../lib/errors.js';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const mock = mockClient(doc);
afterEach(() => mock.reset());

describe('link store edge cases', () => {
  it('retries the tombstone writes DynamoDB left unprocessed, and only those', async () => {
    const items = Array.from({ length: 3 }, (_, i) => ({
      pk: 'link#ext#shopify:s.myshopify.com:customer',
      sk: `k${i}`,
      contactId: String(i + 1),
    }));
    mock.on(QueryCommand).resolves({ Items: items });
    const leftOver = { pk: items[1]?.pk, sk: 'k1', redactedAt: '2026-11-27T00:00:00.000Z' };
    mock
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { t: [{ PutRequest: { Item: leftOver } }] } })
      .resolves({});
    const sleeps: number[] = [];
    const store = createLinkStore({
      client: doc,
      tableName: 't',
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });
    expect(await store.removeShopLinks('s.myshopify.com')).toBe(3);
    const calls = mock.commandCalls(BatchWriteCommand).map((call) => call.args[0].input.RequestItems?.t);
    expect(calls.map((requests) => requests?.length)).toEqual([3, 1]);
    expect(calls[0]?.map((request) => request.PutRequest?.Item?.contactId)).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
    expect(calls[1]?.[0]?.PutRequest?.Item).toEqual(leftOver);
    expect(sleeps).toHaveLength(1);
  });

  it('follows the Query pages of a large shop', async () => {
    mock
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ pk: 'p', sk: 'a', contactId: '1' }], LastEvaluatedKey: { pk: 'p', sk: 'a' } })
      .resolves({ Items: [{ pk: 'p', sk: 'b', contactId: '2' }] });
    mock.on(BatchWriteCommand).resolves({});
    const store = createLinkStore({ client: doc, tableName: 't' });
    expect(await store.removeShopLinks('s.myshopify.com')).toBe(2);
    expect(mock.commandCalls(QueryCommand)[1]?.args[0].input.ExclusiveStartKey).toEqual({ pk: 'p', sk: 'a' });
  });

  it('looks a person up with one read per key, telling a removal apart from nothing at all', async () => {
    const at = new Date(Date.now() - 60_000).toISOString();
    mock
      .on(GetCommand)
      .resolvesOnce({})
      .resolvesOnce({ Item: { redactedAt: at, expiresAt: Math.ceil(Date.now() / 1000) + 60 } })
      .resolves({});
    const store = createLinkStore({ client: doc, tableName: 't' });
    const match = {
      externalKey: 'shopify:s.myshopify.com:customer:1',
      email: 'a@b.co',
      phone: '+15550001111',
    };
    expect(await store.lookup(match)).toEqual({ redactedAt: at });
    expect(mock.commandCalls(GetCommand)).toHaveLength(3);
  });

  it('reports DynamoDB failures as retryable dependency errors', async () => {
    mock
      .on(GetCommand)
      .rejects(Object.assign(new Error('x'), { name: 'ProvisionedThroughputExceededException' }));
    const store = createLinkStore({ client: doc, tableName: 't' });
    const error = await store.resolve({ email: 'a@b.co' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).retryable).toBe(true);
    expect(String((error as Error).message)).not.toContain('a@b.co');
  });
});

describe('phone link keys', () => {
  it('key a formatted E.164 number like the bare one, so formatted phones meet imported links', async () => {
    expect(phoneLinkKey('+1 555-123 4567')).toEqual(phoneLinkKey('+15551234567'));
    expect(phoneLinkKey(' +1 (555) 123.4567 ')).toEqual(phoneLinkKey('+15551234567'));
    // Without the +, the country is unknown: not the same number.
    expect(phoneLinkKey('1 555 123 4567')).not.toEqual(phoneLinkKey('+15551234567'));
    const links = createMemoryLinkStore();
    await links.putLinks('42', { phone: '+15551234567' });
    expect(await links.resolve({ phone: '+1 555 123 4567' })).toBe('42');
  });
});
