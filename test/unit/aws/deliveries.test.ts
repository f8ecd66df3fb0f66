import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createDeliveryStore, DELIVERY_TTL_SECONDS } from '../../../lib/aws/deliveries.js';
import { DependencyError } from '../../../lib/errors.js';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const mock = mockClient(doc);
afterEach(() => mock.reset());

const NOW = Date.parse('2026-11-26T10:00:00Z');

describe('createDeliveryStore', () => {
  it('records a delivery under its key with a 7-day TTL in epoch seconds', async () => {
    mock.on(PutCommand).resolves({});
    const store = createDeliveryStore({ client: doc, tableName: 't', now: () => NOW });
    await store.recordDelivery('shopify', 'w-1', { jobId: 'shopify:x:customer:1:2026' });
    const input = mock.commandCalls(PutCommand)[0]?.args[0].input;
    expect(input?.Item).toMatchObject({
      pk: 'delivery#shopify#w-1',
      sk: 'delivery',
      jobId: 'shopify:x:customer:1:2026',
      expiresAt: NOW / 1000 + DELIVERY_TTL_SECONDS,
    });
    expect(DELIVERY_TTL_SECONDS).toBe(604_800);
  });

  it('treats an expired item that DynamoDB has not deleted yet as unseen', async () => {
    mock.on(GetCommand).resolves({ Item: { pk: 'p', sk: 's', expiresAt: NOW / 1000 - 1 } });
    const store = createDeliveryStore({ client: doc, tableName: 't', now: () => NOW });
    expect(await store.hasDelivery('shopify', 'w-1')).toBe(false);
    mock.on(GetCommand).resolves({ Item: { pk: 'p', sk: 's', expiresAt: NOW / 1000 + 60 } });
    expect(await store.hasDelivery('shopify', 'w-1')).toBe(true);
    mock.on(GetCommand).resolves({});
    expect(await store.hasDelivery('shopify', 'w-1')).toBe(false);
  });

  it('treats an item without expiresAt as seen (it never expires)', async () => {
    mock.on(GetCommand).resolves({ Item: { pk: 'p', sk: 's', jobId: 'j' } });
    const store = createDeliveryStore({ client: doc, tableName: 't', now: () => NOW });
    expect(await store.hasDelivery('shopify', 'w-1')).toBe(true);
  });

  it('turns DynamoDB failures into retryable dependency errors', async () => {
    mock
      .on(GetCommand)
      .rejects(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }));
    mock.on(PutCommand).rejects(new Error('boom'));
    const store = createDeliveryStore({ client: doc, tableName: 't' });
    await expect(store.hasDelivery('typeform', 'e')).rejects.toBeInstanceOf(DependencyError);
    await expect(store.recordDelivery('typeform', 'e', { jobId: 'j' })).rejects.toMatchObject({
      dependency: 'dynamodb',
      retryable: true,
    });
  });
});
