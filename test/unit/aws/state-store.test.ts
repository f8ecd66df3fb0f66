import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
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
