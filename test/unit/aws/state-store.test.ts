import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createMemoryStateStore,
  createStateStore,
  LEDGER_TTL_SECONDS,
  recordAppliedJob,
} from '../../../lib/aws/state-store.js';
import { ConflictError, DependencyError } from '../../../lib/errors.js';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const mock = mockClient(doc);
afterEach(() => mock.reset());

const NOW = Date.parse('2026-11-26T10:00:00Z');
const v = (occurredAt: string, valueHash: string, jobId = 'j') => ({ occurredAt, valueHash, jobId });

function conditionFailed() {
  return new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
}

const puts = () => mock.commandCalls(PutCommand).map((call) => call.args[0].input);

describe('DynamoDB state store', () => {
  it('writes the versions conditional on the revision, then the ledger entry with a 30-day TTL', async () => {
    mock.on(PutCommand).resolves({});
    const store = createStateStore({ client: doc, tableName: 't', now: () => NOW });
    await store.putApplied(
      {
        jobId: 'j1',
        contactId: '7',
        source: 'typeform',
        versions: { firstName: v('2026-11-26T09:00:00.000Z', 'h') },
      },
      { revision: 3, fields: {} },
    );
    const [versions, ledger] = puts();
    expect(versions).toMatchObject({
      Item: { pk: 'contact#7', sk: 'fields', revision: 4 },
      ConditionExpression: '#revision = :revision',
      ExpressionAttributeValues: { ':revision': 3 },
    });
    expect(ledger?.Item).toMatchObject({
      pk: 'job#j1',
      sk: 'job',
      expiresAt: NOW / 1000 + LEDGER_TTL_SECONDS,
    });
    expect(LEDGER_TTL_SECONDS).toBe(2_592_000);
  });

  it('creates the versions item only if none exists yet', async () => {
    mock.on(PutCommand).resolves({});
    const store = createStateStore({ client: doc, tableName: 't', now: () => NOW });
    await store.putApplied(
      { jobId: 'j1', contactId: '7', source: 's', versions: { a: v('2026-01-01T00:00:00Z', 'h') } },
      { revision: 0, fields: {} },
    );
    expect(puts()[0]?.ConditionExpression).toBe('attribute_not_exists(pk)');
  });

  it('writes only the ledger entry when no version changed', async () => {
    mock.on(PutCommand).resolves({});
    const store = createStateStore({ client: doc, tableName: 't', now: () => NOW });
    const fields = { a: v('2026-01-01T00:00:00Z', 'h') };
    await store.putApplied(
      { jobId: 'j1', contactId: '7', source: 's', versions: { ...fields } },
      { revision: 2, fields },
    );
    expect(puts().map((input) => input.Item?.pk)).toEqual(['job#j1']);
  });

  it('turns a failed revision condition into a ConflictError (no ledger entry) and other failures into DependencyError', async () => {
    const store = createStateStore({ client: doc, tableName: 't', now: () => NOW });
    const job = { jobId: 'j1', contactId: '7', source: 's', versions: { a: v('2026-01-01T00:00:00Z', 'h') } };
    mock.on(PutCommand).rejects(conditionFailed());
    await expect(store.putApplied(job, { revision: 1, fields: {} })).rejects.toBeInstanceOf(ConflictError);
    expect(puts()).toHaveLength(1);
    mock.on(PutCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    await expect(store.putApplied(job, { revision: 1, fields: {} })).rejects.toBeInstanceOf(DependencyError);
  });

  it('treats a ledger entry past its expiry as gone', async () => {
    const store = createStateStore({ client: doc, tableName: 't', now: () => NOW });
    mock.on(GetCommand).resolves({ Item: { pk: 'job#j', expiresAt: NOW / 1000 - 1 } });
    expect(await store.isApplied('j')).toBe(false);
    mock.on(GetCommand).resolves({ Item: { pk: 'job#j', expiresAt: NOW / 1000 + 60 } });
    expect(await store.isApplied('j')).toBe(true);
    mock.on(GetCommand).resolves({});
    expect(await store.isApplied('j')).toBe(false);
  });
});

describe('recordAppliedJob', () => {
  it('re-reads after a lost race and merges, keeping the other writer’s newer versions', async () => {
    const store = createStateStore({ client: doc, tableName: 't', now: () => NOW });
    const other = {
      firstName: v('2026-11-26T12:00:00.000Z', 'theirs', 'other'),
      tag: v('2026-11-26T08:00:00.000Z', 't', 'other'),
    };
    mock
      .on(PutCommand)
      .rejectsOnce(conditionFailed())
      .resolves({})
      .on(GetCommand)
      .resolves({ Item: { revision: 5, fields: other } });
    await recordAppliedJob(
      store,
      {
        jobId: 'mine',
        contactId: '7',
        source: 's',
        versions: {
          firstName: v('2026-11-26T10:00:00.000Z', 'mine', 'mine'),
          lastName: v('2026-11-26T10:00:00.000Z', 'l', 'mine'),
        },
      },
      { known: { revision: 4, fields: {} } },
    );
    const second = puts()[1];
    expect(second?.ExpressionAttributeValues).toEqual({ ':revision': 5 });
    expect(second?.Item?.fields).toEqual({
      firstName: other.firstName,
      tag: other.tag,
      lastName: v('2026-11-26T10:00:00.000Z', 'l', 'mine'),
    });
    expect(puts()[2]?.Item?.pk).toBe('job#mine');
  });

  it('gives up with a ConflictError after losing every attempt', async () => {
    const store = createMemoryStateStore();
    const racing = { ...store, putApplied: async () => Promise.reject(new ConflictError('race')) };
    await expect(
      recordAppliedJob(racing, { jobId: 'j', contactId: '7', source: 's', versions: {} }, { attempts: 3 }),
    ).rejects.toBeInstanceOf(ConflictError);
  });
});

describe('contact lease (DynamoDB)', () => {
  const updates = () => mock.commandCalls(UpdateCommand).map((call) => call.args[0].input);

  it('takes the lease with one conditional UpdateItem that returns the versions', async () => {
    const fields = { firstName: v('2026-11-26T09:00:00.000Z', 'h') };
    mock.on(UpdateCommand).resolves({
      Attributes: { pk: 'contact#7', revision: 4, fields, leaseOwner: 'me', leaseUntil: NOW + 70_000 },
    });
    const store = createStateStore({ client: doc, tableName: 't', now: () => NOW });
    const attempt = await store.acquireContactLease('7', { owner: 'me', untilMs: NOW + 70_000 });
    expect(attempt).toEqual({
      acquired: true,
      versions: { revision: 4, fields, lease: { owner: 'me', untilMs: NOW + 70_000 } },
    });
    expect(updates()).toHaveLength(1);
    expect(updates()[0]).toMatchObject({
      Key: { pk: 'contact#7', sk: 'fields' },
      ConditionExpression: 'attribute_not_exists(leaseUntil) OR leaseUntil < :now OR leaseOwner = :owner',
      ExpressionAttributeValues: { ':owner': 'me', ':until': NOW + 70_000, ':now': NOW, ':one': 1 },
      ReturnValues: 'ALL_NEW',
    });
    expect(mock.commandCalls(GetCommand)).toHaveLength(0);
  });

  it('reports a lease held by another owner as not acquired, and other failures as DependencyError', async () => {
    const store = createStateStore({ client: doc, tableName: 't', now: () => NOW });
    mock.on(UpdateCommand).rejects(conditionFailed());
    expect(await store.acquireContactLease('7', { owner: 'me', untilMs: NOW + 1 })).toEqual({
      acquired: false,
    });
    mock.on(UpdateCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    await expect(store.acquireContactLease('7', { owner: 'me', untilMs: NOW + 1 })).rejects.toBeInstanceOf(
      DependencyError,
    );
  });

  it('releases only its own lease and ignores one that is no longer its own', async () => {
    const store = createStateStore({ client: doc, tableName: 't', now: () => NOW });
    mock.on(UpdateCommand).rejects(conditionFailed());
    await expect(store.releaseContactLease('7', 'me')).resolves.toBeUndefined();
    expect(updates()[0]).toMatchObject({
      UpdateExpression: 'REMOVE leaseOwner, leaseUntil ADD #revision :one',
      ConditionExpression: 'leaseOwner = :owner',
      ExpressionAttributeValues: { ':owner': 'me', ':one': 1 },
    });
    mock.on(UpdateCommand).rejects(Object.assign(new Error('down'), { name: 'InternalServerError' }));
    await expect(store.releaseContactLease('7', 'me')).rejects.toBeInstanceOf(DependencyError);
  });

  it('releases its lease in the versions write, even when no version changed, and keeps another owner’s', async () => {
    mock.on(PutCommand).resolves({});
    const store = createStateStore({ client: doc, tableName: 't', now: () => NOW });
    const fields = { a: v('2026-01-01T00:00:00Z', 'h') };
    const job = { jobId: 'j1', contactId: '7', source: 's', versions: { ...fields } };
    await store.putApplied(
      job,
      { revision: 2, fields, lease: { owner: 'me', untilMs: NOW + 5 } },
      { leaseOwner: 'me' },
    );
    const [released] = puts();
    expect(released).toMatchObject({
      Item: { pk: 'contact#7', revision: 3 },
      ExpressionAttributeValues: { ':revision': 2 },
    });
    expect(released?.Item).not.toHaveProperty('leaseOwner');
    expect(released?.Item).not.toHaveProperty('leaseUntil');

    mock.reset();
    mock.on(PutCommand).resolves({});
    await store.putApplied(
      { ...job, versions: { b: v('2026-01-01T00:00:00Z', 'x') } },
      { revision: 5, fields, lease: { owner: 'other', untilMs: NOW + 5 } },
      { leaseOwner: 'me' },
    );
    expect(puts()[0]?.Item).toMatchObject({ revision: 6, leaseOwner: 'other', leaseUntil: NOW + 5 });
  });
});

describe('contact lease (memory)', () => {
  it('lets one owner in at a time, until its lease expires or it is released', async () => {
    let clock = NOW;
    const store = createMemoryStateStore({ now: () => clock });
    const a = await store.acquireContactLease('7', { owner: 'a', untilMs: NOW + 1_000 });
    expect(a).toMatchObject({ acquired: true, versions: { revision: 1, fields: {} } });
    expect(await store.acquireContactLease('7', { owner: 'b', untilMs: NOW + 1_000 })).toEqual({
      acquired: false,
    });
    // The same owner may take it again (a retried request).
    expect(await store.acquireContactLease('7', { owner: 'a', untilMs: NOW + 2_000 })).toMatchObject({
      acquired: true,
    });
    // Another contact is free.
    expect(await store.acquireContactLease('8', { owner: 'b', untilMs: NOW + 1_000 })).toMatchObject({
      acquired: true,
    });

    clock = NOW + 2_001;
    expect(await store.acquireContactLease('7', { owner: 'b', untilMs: clock + 1_000 })).toMatchObject({
      acquired: true,
      versions: { lease: { owner: 'b' } },
    });
    await store.releaseContactLease('7', 'a'); // not a's any more: a no-op
    expect(await store.acquireContactLease('7', { owner: 'c', untilMs: clock + 1_000 })).toEqual({
      acquired: false,
    });
    await store.releaseContactLease('7', 'b');
    expect((await store.getFieldVersions('7')).lease).toBeUndefined();
    expect(await store.acquireContactLease('7', { owner: 'c', untilMs: clock + 1_000 })).toMatchObject({
      acquired: true,
    });
  });

  it('releases the lease in the versions write, and a write from before a lease change conflicts', async () => {
    const store = createMemoryStateStore({ now: () => NOW });
    const taken = await store.acquireContactLease('7', { owner: 'a', untilMs: NOW + 1_000 });
    if (!taken.acquired) throw new Error('lease not taken');
    await recordAppliedJob(
      store,
      { jobId: 'j', contactId: '7', source: 's', versions: { a: v('2026-01-01T00:00:00Z', 'h', 'j') } },
      { known: taken.versions, leaseOwner: 'a' },
    );
    const stored = await store.getFieldVersions('7');
    expect(stored.lease).toBeUndefined();
    expect(stored.fields).toEqual({ a: v('2026-01-01T00:00:00Z', 'h', 'j') });
    expect(store.ledger().has('j')).toBe(true);

    // Read, then somebody takes the lease: the write from the old read loses its race.
    const read = await store.getFieldVersions('7');
    await store.acquireContactLease('7', { owner: 'b', untilMs: NOW + 1_000 });
    await expect(
      store.putApplied(
        { jobId: 'k', contactId: '7', source: 's', versions: { z: v('2026-01-02T00:00:00Z', 'z') } },
        read,
      ),
    ).rejects.toBeInstanceOf(ConflictError);
  });
});
