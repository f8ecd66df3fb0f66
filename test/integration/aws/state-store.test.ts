import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryStateStore,
  createStateStore,
  recordAppliedJob,
  type StateStore,
  UNRECORDED_KEEP_MS,
} from '../../../lib/aws/state-store.js';
import { ConflictError } from '../../../lib/errors.js';
import { provisionStack } from '../../../tools/provision.js';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
let tableName = '';

beforeAll(async () => {
  ({ STATE_TABLE_NAME: tableName } = await provisionStack({ prefix: `state-${randomUUID().slice(0, 8)}` }));
});

const v = (occurredAt: string, valueHash: string, jobId: string) => ({ occurredAt, valueHash, jobId });

describe('state store on DynamoDB (moto)', () => {
  it('records a job and reads it back', async () => {
    const store = createStateStore({ client, tableName });
    const contactId = String(Math.floor(Math.random() * 1e9) + 1);
    expect(await store.getFieldVersions(contactId)).toEqual({ revision: 0, fields: {} });
    await recordAppliedJob(store, {
      jobId: 'a',
      contactId,
      source: 's',
      versions: { firstName: v('2026-11-26T10:00:00.000Z', 'h1', 'a') },
    });
    expect(await store.isApplied('a')).toBe(true);
    expect(await store.isApplied('never')).toBe(false);
    expect(await store.getFieldVersions(contactId)).toEqual({
      revision: 1,
      fields: { firstName: v('2026-11-26T10:00:00.000Z', 'h1', 'a') },
    });
  });

  it('refuses a write from a stale read with a ConflictError, and recordAppliedJob merges past it', async () => {
    const store = createStateStore({ client, tableName });
    const contactId = String(Math.floor(Math.random() * 1e9) + 1);
    const staleRead = await store.getFieldVersions(contactId);
    await recordAppliedJob(store, {
      jobId: `w1-${contactId}`,
      contactId,
      source: 's',
      versions: { firstName: v('2026-11-26T12:00:00.000Z', 'newer', 'w1') },
    });
    await expect(
      store.putApplied(
        {
          jobId: `w2-${contactId}`,
          contactId,
          source: 's',
          versions: { lastName: v('2026-11-26T10:00:00.000Z', 'l', 'w2') },
        },
        staleRead,
      ),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(await store.isApplied(`w2-${contactId}`)).toBe(false);

    await recordAppliedJob(
      store,
      {
        jobId: `w2-${contactId}`,
        contactId,
        source: 's',
        versions: {
          firstName: v('2026-11-26T10:00:00.000Z', 'older', 'w2'),
          lastName: v('2026-11-26T10:00:00.000Z', 'l', 'w2'),
        },
      },
      { known: staleRead },
    );
    const stored = await store.getFieldVersions(contactId);
    expect(stored.revision).toBe(2);
    expect(stored.fields.firstName?.valueHash).toBe('newer');
    expect(stored.fields.lastName?.valueHash).toBe('l');
  });

  it('takes, contends for, expires and releases a contact lease with conditional updates', async () => {
    let clock = Date.parse('2026-11-27T00:00:00Z');
    const store = createStateStore({ client, tableName, now: () => clock });
    const contactId = String(Math.floor(Math.random() * 1e9) + 1);
    const a = await store.acquireContactLease(contactId, { owner: 'a', untilMs: clock + 1_000 });
    expect(a).toEqual({
      acquired: true,
      versions: { revision: 1, fields: {}, lease: { owner: 'a', untilMs: clock + 1_000 } },
    });
    expect(await store.acquireContactLease(contactId, { owner: 'b', untilMs: clock + 1_000 })).toEqual({
      acquired: false,
    });
    await store.releaseContactLease(contactId, 'b'); // not b's: nothing happens
    expect((await store.getFieldVersions(contactId)).lease?.owner).toBe('a');

    clock += 1_001; // a's Lambda died: its lease expired
    const b = await store.acquireContactLease(contactId, { owner: 'b', untilMs: clock + 1_000 });
    expect(b).toMatchObject({ acquired: true, versions: { revision: 2, lease: { owner: 'b' } } });
    await store.releaseContactLease(contactId, 'b');
    expect(await store.getFieldVersions(contactId)).toEqual({ revision: 3, fields: {} });

    const c = await store.acquireContactLease(contactId, { owner: 'c', untilMs: clock + 1_000 });
    if (!c.acquired) throw new Error('lease not taken');
    await recordAppliedJob(
      store,
      {
        jobId: `c-${contactId}`,
        contactId,
        source: 's',
        versions: { a: v('2026-11-26T10:00:00.000Z', 'h', 'c') },
      },
      { known: c.versions, leaseOwner: 'c' },
    );
    expect(await store.getFieldVersions(contactId)).toEqual({
      revision: 5,
      fields: { a: v('2026-11-26T10:00:00.000Z', 'h', 'c') },
    });
    expect(await store.isApplied(`c-${contactId}`)).toBe(true);
  });
});

describe.each([
  ['DynamoDB (moto)', (now: () => number): StateStore => createStateStore({ client, tableName, now })],
  ['memory', (now: () => number): StateStore => createMemoryStateStore({ now })],
])('unrecorded job attempts on a contact, %s', (_name, createStore) => {
  it('keeps each attempt that may have changed the contact until its job records, for 14 days at most', async () => {
    let clock = Date.parse('2026-11-27T00:00:00Z');
    const store = createStore(() => clock);
    const contactId = String(Math.floor(Math.random() * 1e9) + 1);
    const take = async (owner: string) => {
      const attempt = await store.acquireContactLease(contactId, { owner, untilMs: clock + 60_000 });
      if (!attempt.acquired) throw new Error('lease not taken');
      return attempt.versions;
    };
    const a1 = `${clock}|o1|job:a`;
    expect((await take('o1')).unrecorded).toBeUndefined();
    await store.releaseContactLease(contactId, 'o1', { unrecorded: 'job:a' });
    clock += 1;
    const b2 = `${clock}|o2|job:b`;
    expect((await take('o2')).unrecorded).toEqual([a1]);
    await store.releaseContactLease(contactId, 'o2', { unrecorded: 'job:b' });
    // A release without an entry keeps the others.
    await take('o3');
    await store.releaseContactLease(contactId, 'o3');
    // job:a again: a second attempt of the same job is an entry of its own.
    clock += 1;
    const a4 = `${clock}|o4|job:a`;
    expect((await take('o4')).unrecorded).toEqual([a1, b2]);
    await store.releaseContactLease(contactId, 'o4', { unrecorded: 'job:a' });
    // job:a records: its entries go, job:b's stays.
    const known = await take('o5');
    expect(known.unrecorded).toEqual([a1, b2, a4]);
    await recordAppliedJob(
      store,
      { jobId: 'job:a', contactId, source: 's', versions: known.fields },
      { known, leaseOwner: 'o5' },
    );
    const after = await store.getFieldVersions(contactId);
    expect(after.unrecorded).toEqual([b2]);
    expect(after.lease).toBeUndefined();
    // Past SQS's 14-day retention, job:b cannot come back: the next write drops its entry.
    clock += UNRECORDED_KEEP_MS;
    const late = await take('o6');
    await recordAppliedJob(
      store,
      { jobId: 'job:c', contactId, source: 's', versions: late.fields },
      { known: late, leaseOwner: 'o6' },
    );
    expect((await store.getFieldVersions(contactId)).unrecorded).toBeUndefined();
  });
});
