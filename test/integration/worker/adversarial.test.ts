import { describe, expect, it } from 'vitest';
import { createCreationClaims } from '../../../lib/aws/creation-claims.js';
import { createLinkStore } from '../../../lib/aws/links.js';
import { createStateStore, type StateStore } from '../../../lib/aws/state-store.js';
import { createClearTalkClient } from '../../../lib/cleartalk/client.js';
import { DependencyError } from '../../../lib/errors.js';
import { createCircuitBreaker } from '../../../lib/jobs/circuit-breaker.js';
import type { PatchJob } from '../../../lib/jobs/patch-job.js';
import { createPatchWorker, type PatchWorker } from '../../../lib/jobs/worker.js';
import { buildSqsRecord } from '../../helpers/sqs-record.js';
import { buildJob, useWorkerHarness, type WorkerHarness } from '../../helpers/worker-harness.js';

// Adversarial interleavings of worker invocations on one contact, against moto (state table, DLQ)
// and the ClearTalk sandbox over HTTP. Each invocation is its own createPatchWorker (its own
// in-process lock and breaker), as two Lambda containers would be; records are handed to
// processBatch directly so the test decides the order.
const setup = useWorkerHarness();

const EXTERNAL_KEY = 'shopify:s.myshopify.com:customer:42';

/** One invocation's worker on the harness's stack and sandbox; `state` may wrap the real store. */
function invocation(
  h: WorkerHarness,
  wrap: (state: StateStore) => StateStore = (s) => s,
  options: {
    timeoutMs?: number;
    maxAttempts?: number;
    createIfUnresolved?: boolean;
    clearTalkSleep?: (ms: number) => Promise<void>;
  } = {},
): PatchWorker {
  const state = createStateStore({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME, now: h.now });
  return createPatchWorker({
    clearTalk: createClearTalkClient({
      baseUrl: h.sandbox.url,
      getApiKey: async () => h.sandbox.apiKey,
      maxAttempts: options.maxAttempts ?? 2,
      timeoutMs: options.timeoutMs ?? 5_000,
      now: h.now,
      sleep: options.clearTalkSleep ?? (async (ms) => h.advance(ms)),
      random: () => 0.5,
    }),
    state: wrap(state),
    links: {
      ...createLinkStore({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME }),
      ...createCreationClaims({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME, now: h.now }),
    },
    policy: () => ({ createIfUnresolved: options.createIfUnresolved ?? false }),
    sqs: h.sqs,
    deadLetterQueueUrl: h.stack.DEAD_LETTER_QUEUE_URL,
    breaker: createCircuitBreaker({ failureThreshold: 3, cooldownMs: 30_000, now: h.now }),
    concurrency: 4,
    maxReceiveCount: 5,
    now: h.now,
    lease: { sleep: async (ms) => h.advance(ms) },
  });
}

/** Runs one record of `job` (its group: contactId, else externalKey) through `worker`. */
async function deliver(
  h: WorkerHarness,
  worker: PatchWorker,
  job: PatchJob | Omit<PatchJob, 'contactId'>,
  receiveCount = 1,
): Promise<'done' | 'handed-back'> {
  const groupId = ('contactId' in job && job.contactId) || job.match?.externalKey || 'g';
  const record = buildSqsRecord({ body: JSON.stringify(job), groupId, receiveCount });
  const { batchItemFailures } = await worker.processBatch({ Records: [record] }, h.now() + 60_000);
  return batchItemFailures.length === 0 ? 'done' : 'handed-back';
}

/** A state store whose next `putApplied` fails as DynamoDB would (after ClearTalk's 2xx). */
function failingFirstRecord(state: StateStore): StateStore {
  let failed = false;
  return {
    ...state,
    async putApplied(job, expected, options) {
      if (!failed) {
        failed = true;
        throw new DependencyError('dynamodb', 'state store: field versions write failed (Throttling)');
      }
      return state.putApplied(job, expected, options);
    },
  };
}

/** A ClearTalk backoff that waits until the test opens the gate (the request before it failed). */
function pauseOnBackoff(): {
  sleep: (ms: number) => Promise<void>;
  paused: Promise<void>;
  resume: () => void;
} {
  let paused: () => void = () => undefined;
  let resume: () => void = () => undefined;
  const pausedAt = new Promise<void>((resolve) => {
    paused = resolve;
  });
  const gate = new Promise<void>((resolve) => {
    resume = resolve;
  });
  return {
    sleep: async () => {
      paused();
      await gate;
    },
    paused: pausedAt,
    resume,
  };
}

function byLink(job: PatchJob): Omit<PatchJob, 'contactId'> {
  const { contactId: _drop, ...rest } = job;
  return { ...rest, match: { externalKey: EXTERNAL_KEY } };
}

const NEWER = '2026-11-26T12:00:00Z';
const OLDER = '2026-11-26T10:00:00Z';

/** Links contact 1 to EXTERNAL_KEY, so jobs of the external-key group resolve to it. */
async function linkContact(h: WorkerHarness): Promise<void> {
  await createLinkStore({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME }).putLinks('1', {
    externalKey: EXTERNAL_KEY,
  });
}

/** Two changes of contact 1 in two message groups: one naming its id, one by its external key. */
function twoGroups(
  byId: Pick<PatchJob, 'patch' | 'occurredAt'>,
  byKey: Pick<PatchJob, 'patch' | 'occurredAt'>,
): { byId: PatchJob; byKey: Omit<PatchJob, 'contactId'> } {
  return {
    byId: buildJob({ contactId: '1', ...byId }),
    byKey: byLink(buildJob({ source: 'shopify', ...byKey })),
  };
}

/**
 * Contact 1 (firstName 'Original', linked to EXTERNAL_KEY), and two changes of its firstName: the
 * newer one by its id, the older one by its external key.
 */
async function newerByIdOlderByKey(
  h: WorkerHarness,
): Promise<{ byId: PatchJob; byKey: Omit<PatchJob, 'contactId'> }> {
  h.sandbox.seed([{ id: 1, firstName: 'Original' }]);
  await linkContact(h);
  return twoGroups(
    { patch: { firstName: 'Newer' }, occurredAt: NEWER },
    { patch: { firstName: 'Older' }, occurredAt: OLDER },
  );
}

describe('worker under adversarial interleavings (moto + sandbox)', () => {
  it('re-applies a change whose recording failed after an older change from another group landed in between', async () => {
    const h = await setup();
    const { byId: newer, byKey: older } = await newerByIdOlderByKey(h);

    // Invocation A: ClearTalk takes the newer change, then the versions write fails: handed back.
    expect(await deliver(h, invocation(h, failingFirstRecord), newer)).toBe('handed-back');
    expect(h.sandbox.contact(1)?.firstName).toBe('Newer');
    // Invocation B (the external-key group) sees no version for firstName and sends its older value.
    expect(await deliver(h, invocation(h), older)).toBe('done');
    // A's redelivery must put the newer value back: it is the latest change of firstName.
    expect(await deliver(h, invocation(h), newer, 2)).toBe('done');

    expect(h.sandbox.contact(1)?.firstName).toBe('Newer');
    expect(h.patchRequests().map((r) => r.status)).toEqual([200, 200, 200]);
  });

  it('re-applies a custom field whose recording failed after an older write of that key landed in between', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1, customField: { other: 'kept' } }]);
    await linkContact(h);
    const { byId: newer, byKey: older } = twoGroups(
      { patch: { customField: { plan: 'pro' } }, occurredAt: NEWER },
      { patch: { customField: { plan: 'free' } }, occurredAt: OLDER },
    );

    expect(await deliver(h, invocation(h, failingFirstRecord), newer)).toBe('handed-back');
    expect(await deliver(h, invocation(h), older)).toBe('done');
    expect(await deliver(h, invocation(h), newer, 2)).toBe('done');

    expect(h.sandbox.contact(1)?.customField).toEqual({ other: 'kept', plan: 'pro' });
  });

  it('re-applies a change whose recording failed when an older change of another group also went unrecorded', async () => {
    const h = await setup();
    const { byId: newer, byKey: older } = await newerByIdOlderByKey(h);

    // Both 2xx answers go unrecorded: the newer change's, then the older one's.
    expect(await deliver(h, invocation(h, failingFirstRecord), newer)).toBe('handed-back');
    expect(await deliver(h, invocation(h, failingFirstRecord), older)).toBe('handed-back');
    expect(h.sandbox.contact(1)?.firstName).toBe('Older');
    const versions = await createStateStore({
      client: h.doc,
      tableName: h.stack.STATE_TABLE_NAME,
    }).getFieldVersions('1');
    expect(versions.fields).toEqual({});
    expect(new Set(versions.unrecorded?.map((entry) => entry.split('|')[2]))).toEqual(
      new Set([newer.jobId, older.jobId]),
    );
    // The newer change comes back first. The versions are as at its first attempt, so only the
    // older change's unrecorded attempt tells it that its first answer is no longer what ClearTalk
    // holds: it must send again, not replay.
    expect(await deliver(h, invocation(h), newer, 2)).toBe('done');
    expect(h.sandbox.contact(1)?.firstName).toBe('Newer');
    // The older change's redelivery finds firstName stale.
    expect(await deliver(h, invocation(h), older, 2)).toBe('done');
    expect(h.sandbox.contact(1)?.firstName).toBe('Newer');
    const [first, , third] = h.patchRequests();
    expect(third?.idempotencyKey).not.toBe(first?.idempotencyKey);
    expect(h.patchRequests()).toHaveLength(3);
  });

  it('replays the same request when nothing changed the contact between a failed recording and the redelivery', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1, firstName: 'Original' }]);
    const job = buildJob({ contactId: '1', patch: { firstName: 'Ada' } });
    expect(await deliver(h, invocation(h, failingFirstRecord), job)).toBe('handed-back');
    expect(await deliver(h, invocation(h), job, 2)).toBe('done');
    const [first, second] = h.patchRequests();
    expect(second?.idempotencyKey).toBe(first?.idempotencyKey);
    expect(second?.fault).toBe('replay');
  });

  it('re-applies a change whose answer timed out (ClearTalk applied it) after an older change from another group landed', async () => {
    const h = await setup();
    const { byId: newer, byKey: older } = await newerByIdOlderByKey(h);
    // The sandbox applies the PATCH and answers after the client gave up: the outcome is unknown.
    h.sandbox.script({ method: 'PATCH', path: '/contacts/1', delayMs: 300 });
    expect(await deliver(h, invocation(h, undefined, { timeoutMs: 100, maxAttempts: 1 }), newer)).toBe(
      'handed-back',
    );
    expect(h.sandbox.contact(1)?.firstName).toBe('Newer');
    expect(await deliver(h, invocation(h), older)).toBe('done');
    expect(await deliver(h, invocation(h), newer, 2)).toBe('done');
    expect(h.sandbox.contact(1)?.firstName).toBe('Newer');
  });

  it('drops only the fields a newer change of another group set, and sends the rest of the older change', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1, customField: { other: 'kept' } }]);
    await linkContact(h);
    const { byId: newer, byKey: older } = twoGroups(
      { patch: { firstName: 'Newer', customField: { plan: 'pro' } }, occurredAt: NEWER },
      {
        patch: { firstName: 'Older', lastName: 'Lovelace', customField: { plan: 'free', city: 'Paris' } },
        occurredAt: OLDER,
      },
    );
    expect(await deliver(h, invocation(h), newer)).toBe('done');
    expect(await deliver(h, invocation(h), older)).toBe('done');
    expect(h.sandbox.contact(1)).toMatchObject({
      firstName: 'Newer',
      lastName: 'Lovelace',
      customField: { other: 'kept', plan: 'pro', city: 'Paris' },
    });
    expect(h.patchRequests().at(-1)?.body).toEqual({
      lastName: 'Lovelace',
      customField: { city: 'Paris', other: 'kept', plan: 'pro' },
    });
  });

  it('orders changes by instant, not by their local time text, across offsets', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1 }]);
    // 09:00Z; then 13:00+05:00 = 08:00Z (older, though its text reads later); then 05:30-04:00 = 09:30Z.
    const first = buildJob({
      contactId: '1',
      patch: { firstName: 'A', lastName: 'A' },
      occurredAt: '2026-11-26T09:00:00Z',
    });
    const earlier = buildJob({
      contactId: '1',
      patch: { firstName: 'B', lastName: 'B' },
      occurredAt: '2026-11-26T13:00:00+05:00',
    });
    const later = buildJob({
      contactId: '1',
      patch: { lastName: 'C' },
      occurredAt: '2026-11-26T05:30:00.5-04:00',
    });
    for (const job of [first, earlier, later]) expect(await deliver(h, invocation(h), job)).toBe('done');
    expect(h.sandbox.contact(1)).toMatchObject({ firstName: 'A', lastName: 'C' });
    expect(h.patchRequests().map((r) => r.body)).toEqual([
      { firstName: 'A', lastName: 'A' },
      { lastName: 'C' },
    ]);
  });

  it('hands back a redelivery of a job still in flight in another invocation, then finds it a duplicate', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1 }]);
    const job = buildJob({ contactId: '1', patch: { firstName: 'Ada' } });
    const pause = pauseOnBackoff();
    h.sandbox.script({ method: 'PATCH', path: '/contacts/1', status: 503 });
    const first = deliver(h, invocation(h, undefined, { clearTalkSleep: pause.sleep }), job);
    await pause.paused;
    expect(await deliver(h, invocation(h), job, 2)).toBe('handed-back');
    pause.resume();
    expect(await first).toBe('done');
    expect(await deliver(h, invocation(h), job, 3)).toBe('done');
    expect(h.patchRequests().map((r) => r.status)).toEqual([503, 200]);
    expect(h.sandbox.contact(1)?.firstName).toBe('Ada');
  });

  it('keeps the newer value when a stalled attempt whose lease expired resumes after another group applied a newer change', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1 }]);
    await linkContact(h);
    const { byId: older, byKey: newer } = twoGroups(
      { patch: { firstName: 'Older' }, occurredAt: OLDER },
      { patch: { firstName: 'Newer' }, occurredAt: NEWER },
    );
    const pause = pauseOnBackoff();
    h.sandbox.script({ method: 'PATCH', path: '/contacts/1', status: 503 });
    const stalled = deliver(h, invocation(h, undefined, { clearTalkSleep: pause.sleep }), older);
    await pause.paused;
    // Past the stalled attempt's deadline + lease margin: its lease has expired.
    h.advance(75_000);
    expect(await deliver(h, invocation(h), newer)).toBe('done');
    pause.resume();
    // The stalled client notices its deadline passed and gives up without sending.
    expect(await stalled).toBe('handed-back');
    expect(await deliver(h, invocation(h), older, 2)).toBe('done');
    expect(h.sandbox.contact(1)?.firstName).toBe('Newer');
    expect(h.patchRequests().map((r) => r.status)).toEqual([503, 200]);
  });

  it('keeps a link imported while the worker was creating a contact for the same person, and applies the job there', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 7, firstName: 'Existing' }]);
    const links = createLinkStore({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME });
    const match = { externalKey: EXTERNAL_KEY, email: 'ada@example.com' };
    const { contactId: _drop, ...job } = buildJob({ source: 'shopify', match, patch: { firstName: 'Ada' } });
    const pause = pauseOnBackoff();
    h.sandbox.script({ method: 'POST', path: '/contacts', status: 503 });
    const run = deliver(
      h,
      invocation(h, undefined, { clearTalkSleep: pause.sleep, createIfUnresolved: true }),
      job,
    );
    await pause.paused;
    // An operator imports the person's external key to the existing contact 7 (npm run links -- import).
    await links.putLinks('7', { externalKey: EXTERNAL_KEY });
    pause.resume();
    expect(await run).toBe('done');
    // The POST had gone out: contact 8 exists, but the person's keys stay with 7, which has the change.
    expect(h.sandbox.contact(8)?.firstName).toBe('Ada');
    expect(await links.resolve({ externalKey: EXTERNAL_KEY })).toBe('7');
    expect(await links.resolve({ email: 'ada@example.com' })).toBe('7');
    expect(h.sandbox.contact(7)?.firstName).toBe('Ada');
    expect(await deliver(h, invocation(h, undefined, { createIfUnresolved: true }), job, 2)).toBe('done');
    expect(h.sandbox.requests().filter((r) => r.method === 'POST')).toHaveLength(2);
  });
});
