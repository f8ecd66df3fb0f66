import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createCheckpointStore } from '../../../lib/aws/checkpoints.js';
import { ConflictError, DependencyError } from '../../../lib/errors.js';
import { provisionTestStack } from './harness.js';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));

describe('checkpoint store against moto DynamoDB', () => {
  it('creates a checkpoint once, then only moves it from the revision it read', async () => {
    const { STATE_TABLE_NAME } = await provisionTestStack();
    const store = createCheckpointStore({
      client,
      tableName: STATE_TABLE_NAME,
      now: () => Date.parse('2026-11-26T10:00:00Z'),
    });
    const scope = randomUUID();
    expect(await store.get('backfill:typeform', scope)).toBeUndefined();

    expect(await store.put('backfill:typeform', scope, { completedUntil: 'a' }, undefined)).toBe(1);
    expect(await store.put('backfill:typeform', scope, { completedUntil: 'b' }, 1)).toBe(2);
    expect(await store.get('backfill:typeform', scope)).toEqual({
      state: { completedUntil: 'b' },
      revision: 2,
      updatedAt: '2026-11-26T10:00:00.000Z',
    });
  });

  it('refuses a write from a run that read an older revision, keeping the newer state', async () => {
    const { STATE_TABLE_NAME } = await provisionTestStack();
    const store = createCheckpointStore({ client, tableName: STATE_TABLE_NAME });
    const scope = randomUUID();
    await store.put('backfill:shopify', scope, { step: 1 }, undefined);
    const [a, b] = await Promise.allSettled([
      store.put('backfill:shopify', scope, { step: 'a' }, 1),
      store.put('backfill:shopify', scope, { step: 'b' }, 1),
    ]);
    const outcomes = [a, b].map((r) => r.status).sort();
    expect(outcomes).toEqual(['fulfilled', 'rejected']);
    const rejected = [a, b].find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(ConflictError);
    const winner = a.status === 'fulfilled' ? 'a' : 'b';
    expect(await store.get('backfill:shopify', scope)).toMatchObject({
      revision: 2,
      state: { step: winner },
    });
    await expect(store.put('backfill:shopify', scope, { step: 'late' }, undefined)).rejects.toBeInstanceOf(
      ConflictError,
    );
  });

  it('keeps source and scope apart', async () => {
    const { STATE_TABLE_NAME } = await provisionTestStack();
    const store = createCheckpointStore({ client, tableName: STATE_TABLE_NAME });
    await store.put('backfill:typeform', 'x', { n: 1 }, undefined);
    await store.put('backfill:shopify', 'x', { n: 2 }, undefined);
    expect((await store.get('backfill:typeform', 'x'))?.state).toEqual({ n: 1 });
    expect((await store.get('backfill:shopify', 'x'))?.state).toEqual({ n: 2 });
  });

  it('reports a missing table as a dependency failure', async () => {
    const store = createCheckpointStore({ client, tableName: `missing-${randomUUID()}` });
    await expect(store.get('backfill:typeform', 'x')).rejects.toBeInstanceOf(DependencyError);
  });
});
