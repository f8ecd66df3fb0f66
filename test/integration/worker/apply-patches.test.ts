import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createLinkStore } from '../../../lib/aws/links.js';
import { createCircuitBreaker } from '../../../lib/jobs/circuit-breaker.js';
import type { PatchJob } from '../../../lib/jobs/patch-job.js';
import { redriveDeadLetters } from '../../../tools/dlq.js';
import { importLinks, parseLinksCsv } from '../../../tools/links.js';
import {
  buildJob,
  readDeadLetters,
  useWorkerHarness,
  type WorkerHarness,
} from '../../helpers/worker-harness.js';

// The worker against moto (SQS FIFO, DynamoDB, Secrets Manager) and the ClearTalk sandbox over HTTP.
const setup = useWorkerHarness();

/**
 * Sends `job`, runs one batch that acknowledges it, and returns its one dead letter, whose body is
 * the job as sent.
 */
async function sendAndReadOneDeadLetter(h: WorkerHarness, job: PatchJob) {
  await h.send(job);
  const { response } = await h.runBatch();
  expect(response.batchItemFailures).toEqual([]);
  const letters = await readDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL);
  expect(letters).toHaveLength(1);
  const [letter] = letters;
  if (!letter) throw new Error('no dead letter');
  expect(JSON.parse(letter.body)).toEqual(job);
  return letter;
}

const SHOP = 's.myshopify.com';

/**
 * Contact 1 (seeded) linked to Shopify customer `customerId` and an email, through the link store
 * the Shopify webhook function uses for customers/redact (on the harness clock), and a builder of
 * that customer's jobs dated `offsetMs` from the harness clock.
 */
async function linkedShopifyCustomer(h: WorkerHarness, customerId: string) {
  h.sandbox.seed([{ id: 1 }]);
  const links = createLinkStore({
    client: h.doc,
    tableName: h.stack.STATE_TABLE_NAME,
    now: () => new Date(h.now()),
  });
  const match = {
    externalKey: `shopify:${SHOP}:customer:${customerId}`,
    email: `c${customerId}@example.com`,
  };
  await links.putLinks('1', match);
  const shopifyJob = (offsetMs: number, patch: PatchJob['patch'] = { firstName: 'Ada' }) => {
    const { contactId: _none, ...job } = buildJob({
      source: 'shopify',
      match,
      patch,
      occurredAt: new Date(h.now() + offsetMs).toISOString(),
    });
    return job;
  };
  return { links, match, shopifyJob };
}

describe('apply-patches worker (moto + sandbox)', () => {
  it('applies a duplicate jobId once', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1 }]);
    const job = buildJob({ patch: { firstName: 'Ada' } });
    await h.send(job);
    await h.drain();
    // The producer sends the same job again after SQS's 5-minute deduplication window.
    await h.sendRaw(JSON.stringify(job), '1');
    await h.drain();
    expect(h.patchRequests()).toHaveLength(1);
    expect(h.sandbox.contact(1)?.firstName).toBe('Ada');
  });

  it('drops the stale fields of an older change that arrives after a newer one', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1 }]);
    await h.send(buildJob({ patch: { firstName: 'New' }, occurredAt: '2026-11-26T12:00:00Z' }));
    await h.drain();
    await h.send(
      buildJob({ patch: { firstName: 'Old', lastName: 'Lovelace' }, occurredAt: '2026-11-26T10:00:00Z' }),
    );
    await h.drain();
    const patches = h.patchRequests();
    expect(patches.map((r) => r.body)).toEqual([{ firstName: 'New' }, { lastName: 'Lovelace' }]);
    expect(h.sandbox.contact(1)).toMatchObject({ firstName: 'New', lastName: 'Lovelace' });
  });

  it('sends no request for the same values again', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1 }]);
    await h.send(buildJob({ patch: { firstName: 'Ada', customField: { plan: 'pro' } } }));
    await h.drain();
    await h.send(
      buildJob({
        patch: { firstName: 'Ada', customField: { plan: 'pro' } },
        occurredAt: '2026-11-26T11:00:00Z',
      }),
    );
    await h.drain();
    expect(h.sandbox.requests().filter((r) => r.method !== 'GET')).toHaveLength(1);
  });

  it('merges custom fields into the contact’s current ones (the sandbox replaces them whole)', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1, customField: { shopifyState: 'enabled', plan: 'free' } }]);
    await h.send(buildJob({ patch: { customField: { plan: 'pro', score: 42 } } }));
    await h.drain();
    expect(h.sandbox.contact(1)?.customField).toEqual({ shopifyState: 'enabled', plan: 'pro', score: 42 });
  });

  it('dead-letters a 404 with its reason attributes and acknowledges it', async () => {
    const h = await setup();
    const job = buildJob({ contactId: '404404' });
    const letter = await sendAndReadOneDeadLetter(h, job);
    expect(letter.attributes).toMatchObject({ errorReason: 'contact-not-found', errorStatus: '404' });
    expect(letter.attributes.errorMessage).toMatch(/404/);
  });

  it('dead-letters a job dated more than a day ahead as invalid-job with the reason, and sends nothing', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1 }]);
    const job = buildJob({ occurredAt: new Date(h.now() + 30 * 24 * 3_600_000).toISOString() });
    const letter = await sendAndReadOneDeadLetter(h, job);
    expect(letter.attributes).toMatchObject({ errorReason: 'invalid-job' });
    expect(letter.attributes.errorMessage).toMatch(/720 h ahead of the worker's clock/);
    expect(h.patchRequests()).toEqual([]);
  });

  it('applies once after two 503s, with the same Idempotency-Key on every attempt', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1 }]);
    h.sandbox.script({ method: 'PATCH', status: 503, times: 2 });
    const job = buildJob();
    await h.send(job);
    const { response } = await h.runBatch();
    expect(response.batchItemFailures).toEqual([]);
    const patches = h.patchRequests();
    expect(patches.map((r) => r.status)).toEqual([503, 503, 200]);
    const keys = new Set(patches.map((r) => r.idempotencyKey));
    expect(keys.size).toBe(1);
    const [key] = [...keys];
    expect(key?.startsWith(`${job.jobId}#`)).toBe(true);
    expect(key).toMatch(/#[0-9a-f]{16}$/);
    expect(h.sleeps).toHaveLength(2);
  });

  it('fetches the API key again after a rotation', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1 }]);
    await h.send(buildJob({ patch: { firstName: 'Before' } }));
    await h.drain();
    await h.rotateApiKey('rotated-key');
    await h.send(buildJob({ patch: { firstName: 'After' } }));
    await h.drain();
    expect(h.patchRequests().map((r) => r.status)).toEqual([200, 401, 200]);
    expect(h.sandbox.contact(1)?.firstName).toBe('After');
  });

  it('holds back the later records of a failing group but not other groups, then applies them in order', async () => {
    const h = await setup({ maxAttempts: 1 });
    h.sandbox.seed([{ id: 1 }, { id: 2 }]);
    h.sandbox.script({ method: 'PATCH', path: '/contacts/1', status: 503 });
    const a1 = buildJob({ contactId: '1', patch: { firstName: 'A1' } });
    const a2 = buildJob({ contactId: '1', patch: { firstName: 'A2' }, occurredAt: '2026-11-26T10:00:01Z' });
    const b1 = buildJob({ contactId: '2', patch: { firstName: 'B1' } });
    await h.send(a1, b1, a2);

    const first = await h.runBatch();
    expect(first.records).toHaveLength(3);
    const failedBodies = first.response.batchItemFailures.map(
      (f) => JSON.parse(first.records.find((r) => r.messageId === f.itemIdentifier)?.body ?? '{}').jobId,
    );
    expect(failedBodies.sort()).toEqual([a1.jobId, a2.jobId].sort());
    expect(h.sandbox.contact(2)?.firstName).toBe('B1');
    expect(h.patchRequests().filter((r) => r.path === '/contacts/1')).toHaveLength(1);

    await h.drain();
    expect(
      h
        .patchRequests()
        .filter((r) => r.path === '/contacts/1')
        .map((r) => r.body),
    ).toEqual([{ firstName: 'A1' }, { firstName: 'A1' }, { firstName: 'A2' }]);
    expect(h.sandbox.contact(1)?.firstName).toBe('A2');
  });

  it('dead-letters an unresolved contact, and applies it after a links import and a redrive', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1 }]);
    const job = buildJob({
      contactId: undefined,
      match: { email: 'Grace@Example.com' },
      patch: { lastName: 'Hopper' },
    });
    const { contactId: _none, ...withoutContact } = job;
    await h.send(withoutContact);
    await h.drain();
    const letters = await readDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL);
    expect(letters.map((l) => l.attributes.errorReason)).toEqual(['unresolved-contact']);
    expect(letters[0]?.attributes.errorMessage).not.toContain('Grace');

    const { rows, bad } = parseLinksCsv('contact_id,email\n1,grace@example.com\nabc,x@y.z\n', 'US');
    expect(bad).toEqual([{ line: 3, problem: 'contact_id is not a positive integer' }]);
    const links = createLinkStore({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME });
    expect(await importLinks(rows, links)).toEqual({ imported: 1, failed: [] });

    const report = await redriveDeadLetters({
      sqs: h.sqs,
      deadLetterQueueUrl: h.stack.DEAD_LETTER_QUEUE_URL,
      queueUrl: h.stack.PATCH_QUEUE_URL,
      reason: 'unresolved-contact',
      waitTimeSeconds: 0,
    });
    expect(report).toEqual({ redriven: 1, invalid: 0, skipped: 0 });
    await h.drain();
    expect(h.sandbox.contact(1)?.lastName).toBe('Hopper');
    expect(await readDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL)).toEqual([]);
  });

  it('holds back a job queued before its customer was redacted (no request, no dead letter, no link) but not a later change', async () => {
    const h = await setup();
    const { links, match, shopifyJob } = await linkedShopifyCustomer(h, '31');
    await h.send(shopifyJob(-3_600_000, { firstName: 'Queued' }));
    // customers/redact is handled while the job waits in the queue.
    expect(await links.removeCustomerLinks(SHOP, '31', { email: match.email })).toBe(2);
    await h.drain();
    expect(h.sandbox.requests()).toEqual([]);
    expect(await readDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL)).toEqual([]);
    expect(await links.resolve(match)).toBeUndefined();

    // A change made after the redact is a person we do not know (dead-lettered by default).
    await h.send(shopifyJob(60_000, { firstName: 'Back' }));
    await h.drain();
    const letters = await readDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL);
    expect(letters.map((l) => l.attributes.errorReason)).toEqual(['unresolved-contact']);
    expect(h.sandbox.contact(1)?.firstName).not.toBe('Queued');
  });

  it('does not link a customer again whose redact lands while the job’s PATCH is on its way', async () => {
    const h = await setup();
    const { links, match, shopifyJob } = await linkedShopifyCustomer(h, '32');
    await h.send(shopifyJob(-60_000));
    // The sandbox holds the PATCH; the redact is handled meanwhile.
    h.sandbox.script({ method: 'PATCH', delayMs: 300 });
    const batch = h.runBatch();
    // The PATCH has reached the sandbox (it records a request on arrival, answers 300 ms later).
    for (let i = 0; i < 400 && !h.sandbox.requests().some((r) => r.method === 'PATCH'); i++) await delay(5);
    expect(h.sandbox.requests().map((r) => r.method)).toEqual(['PATCH']);
    await links.removeCustomerLinks(SHOP, '32', { email: match.email });
    const { response } = await batch;
    expect(response.batchItemFailures).toEqual([]);
    expect(h.patchRequests().map((r) => r.status)).toEqual([200]);
    expect(await links.lookup(match)).toEqual({ redactedAt: new Date(h.now()).toISOString() });
  });

  it('creates the contact and links it when the source is configured to', async () => {
    const h = await setup({ createIfUnresolved: true });
    const { contactId: _none, ...job } = buildJob({
      match: { externalKey: 'shopify:s.myshopify.com:customer:9' },
    });
    await h.send(job);
    await h.drain();
    expect(h.sandbox.requests().map((r) => `${r.method} ${r.status}`)).toEqual(['POST 201']);
    const created = h.sandbox.contacts()[0];
    const links = createLinkStore({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME });
    expect(await links.resolve({ externalKey: 'shopify:s.myshopify.com:customer:9' })).toBe(
      String(created?.id),
    );
  });

  it('creates one contact for one new person reached through two groups in one batch, and applies both jobs to it', async () => {
    const h = await setup({ createIfUnresolved: true });
    const email = `new-${Date.now()}@example.com`;
    const { contactId: _a, ...shopify } = buildJob({
      jobId: 'shopify:s.myshopify.com:customers/create:9:1',
      source: 'shopify',
      patch: { firstName: 'Grace' },
      match: { externalKey: 'shopify:s.myshopify.com:customer:9', email },
    });
    const { contactId: _b, ...typeform } = buildJob({
      jobId: 'typeform:form1:tok-new',
      patch: { lastName: 'Hopper' },
      match: { email },
    });
    // Two FIFO groups (external key, email): one batch runs them side by side.
    await h.send(shopify, typeform);
    await h.drain();
    expect(h.sandbox.requests().filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(h.sandbox.contacts()).toHaveLength(1);
    expect(h.sandbox.contacts()[0]).toMatchObject({ firstName: 'Grace', lastName: 'Hopper' });
    expect(await readDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL)).toEqual([]);
  });

  it('respects the deadline under persistent 503s', async () => {
    const h = await setup({ maxAttempts: 50 });
    h.sandbox.seed([{ id: 1 }]);
    h.sandbox.setFaults({ rate503: 1 });
    await h.send(buildJob());
    const start = h.now();
    const { response } = await h.runBatch({ budgetMs: 5_000 });
    expect(response.batchItemFailures).toHaveLength(1);
    expect(h.now()).toBeLessThanOrEqual(start + 5_000);
    expect(h.patchRequests().length).toBeGreaterThan(1);
    expect(h.patchRequests().length).toBeLessThan(50);
  });

  it('opens the circuit breaker on failures across contacts, hands the rest back without calls, and closes again', async () => {
    const h = await setup({
      maxAttempts: 1,
      concurrency: 1,
      breaker: { failureThreshold: 3, cooldownMs: 30_000 },
    });
    h.sandbox.seed([1, 2, 3, 4, 5, 6].map((id) => ({ id })));
    h.sandbox.setFaults({ rate503: 1 });
    await h.send(...[1, 2, 3, 4, 5, 6].map((id) => buildJob({ contactId: String(id) })));
    const first = await h.runBatch();
    expect(first.records).toHaveLength(6);
    expect(first.response.batchItemFailures).toHaveLength(6);
    expect(h.patchRequests()).toHaveLength(3);
    expect(h.breaker.state()).toBe('open');

    const second = await h.runBatch();
    expect(second.response.batchItemFailures).toHaveLength(6);
    expect(h.patchRequests()).toHaveLength(3);

    h.sandbox.setFaults({});
    h.advance(30_000);
    await h.drain();
    expect(h.breaker.state()).toBe('closed');
    expect(h.sandbox.contacts().every((c) => c.firstName === 'Ada')).toBe(true);
  });

  it('stops calls already in flight once the breaker opens, at the worker defaults (8 in flight, 6 attempts)', async () => {
    const h = await setup({ maxAttempts: 6, concurrency: 8 });
    // The deployed defaults: BREAKER_FAILURE_THRESHOLD 10 (lib/config.ts), cooldown 30 s.
    const breaker = createCircuitBreaker({ now: () => h.now() });
    const worker = h.createWorker({
      breaker,
      // A real backoff (250 ms and up) outlasts a failed request to a server nearby, so the other
      // records' first attempts fail meanwhile; modelled as: a retry waits until the breaker opens,
      // for at most 300 ms of real time.
      clearTalkSleep: async () => {
        const until = Date.now() + 300;
        while (breaker.state() === 'closed' && Date.now() < until) await delay(5);
      },
    });
    const ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    h.sandbox.seed(ids.map((id) => ({ id })));
    h.sandbox.setFaults({ rate503: 1 });
    await h.send(...ids.map((id) => buildJob({ contactId: String(id) })));
    const { records, response } = await h.runBatch({ worker });
    expect(records).toHaveLength(10);
    expect(response.batchItemFailures).toHaveLength(10);
    expect(breaker.state()).toBe('open');
    // The breaker opens on the 10th failed attempt: at most two attempts of each record in flight
    // (16), the later ones already sent when it opened; the two records not started make none.
    // Without the breaker's hooks in the client: 60 requests (measured), every attempt of 10 records.
    expect(h.patchRequests().length).toBeGreaterThanOrEqual(10);
    expect(h.patchRequests().length).toBeLessThanOrEqual(16);
    expect(await readDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL)).toEqual([]);
  });

  it('dead-letters a record that still fails on its last allowed receive as retries-exhausted', async () => {
    const h = await setup({ maxAttempts: 1, maxReceiveCount: 2 });
    h.sandbox.seed([{ id: 1 }]);
    h.sandbox.setFaults({ rate503: 1 });
    await h.send(buildJob());
    const first = await h.runBatch();
    expect(first.response.batchItemFailures).toHaveLength(1);
    const second = await h.runBatch();
    expect(second.records[0]?.attributes.ApproximateReceiveCount).toBe('2');
    expect(second.response.batchItemFailures).toEqual([]);
    const letters = await readDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL);
    expect(letters[0]?.attributes).toMatchObject({ errorReason: 'retries-exhausted', errorStatus: '503' });
  });
});
