import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryLinkStore } from '../../../lib/aws/links.js';
import { createMemoryStateStore } from '../../../lib/aws/state-store.js';
import type { ClearTalkClient } from '../../../lib/cleartalk/client.js';
import { ClearTalkRetryableError } from '../../../lib/cleartalk/errors.js';
import { createCircuitBreaker } from '../../../lib/jobs/circuit-breaker.js';
import { createPatchWorker } from '../../../lib/jobs/worker.js';
import { buildContact } from '../../helpers/contact.js';
import { buildSqsRecord } from '../../helpers/sqs-record.js';

const sqs = new SQSClient({});
const sqsMock = mockClient(sqs);
afterEach(() => sqsMock.reset());

const contact = buildContact({ id: 7 });

function setup(overrides: Partial<ClearTalkClient> = {}, links = createMemoryLinkStore()) {
  const logs: Array<{ level: string; message: string; data: Record<string, unknown> }> = [];
  const metrics: Array<{ name: string; value: number; dimension?: string }> = [];
  let published = 0;
  const clearTalk: ClearTalkClient = {
    updateContact: async () => contact,
    getContact: async () => contact,
    createContact: async () => contact,
    ...overrides,
  };
  const worker = createPatchWorker({
    clearTalk,
    state: createMemoryStateStore(),
    links,
    policy: () => ({ createIfUnresolved: false }),
    sqs,
    deadLetterQueueUrl: 'http://dlq',
    breaker: createCircuitBreaker(),
    concurrency: 2,
    maxReceiveCount: 5,
    logger: {
      info: (message: string, data: Record<string, unknown>) => logs.push({ level: 'info', message, data }),
      warn: (message: string, data: Record<string, unknown>) => logs.push({ level: 'warn', message, data }),
      error: (message: string, data: Record<string, unknown>) => logs.push({ level: 'error', message, data }),
    } as never,
    metrics: {
      addMetric: (name: string, _unit: unknown, value: number) => {
        metrics.push({ name, value });
      },
      singleMetric: () => {
        let dimension = '';
        const single = {
          addDimension: (_name: string, value: string) => {
            dimension = value;
            return single;
          },
          addMetric: (name: string, _unit: unknown, value: number) => {
            metrics.push({ name, value, dimension });
          },
        };
        return single;
      },
      publishStoredMetrics: () => {
        published++;
      },
    } as never,
  });
  return { worker, logs, metrics, published: () => published };
}

const job = (jobId: string, patch: Record<string, unknown>) =>
  JSON.stringify({
    version: 1,
    jobId,
    source: 'typeform',
    contactId: '7',
    patch,
    occurredAt: '2026-11-26T10:00:00Z',
  });

describe('patch worker', () => {
  it('counts stale fields and records handed back in the metrics', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
    const { worker, metrics } = setup({
      updateContact: async (contactId) => {
        if (contactId === '8') {
          throw new ClearTalkRetryableError('PATCH /contacts/8: ClearTalk answered 503', { status: 503 });
        }
        return contact;
      },
    });
    const at = (jobId: string, contactId: string, occurredAt: string, patch: Record<string, unknown>) =>
      JSON.stringify({ version: 1, jobId, source: 'typeform', contactId, patch, occurredAt });
    // Contact 7: a newer change, then an older one (its firstName stale, its tag new).
    await worker.processBatch(
      {
        Records: [
          buildSqsRecord({ groupId: '7', body: at('n', '7', '2026-11-26T12:00:00Z', { firstName: 'B' }) }),
        ],
      },
      Date.now() + 60_000,
    );
    const response = await worker.processBatch(
      {
        Records: [
          buildSqsRecord({ groupId: '8', body: at('r', '8', '2026-11-26T12:00:00Z', { firstName: 'C' }) }),
          buildSqsRecord({
            groupId: '7',
            body: at('o', '7', '2026-11-26T10:00:00Z', { firstName: 'A', tag: 't' }),
          }),
        ],
      },
      Date.now() + 60_000,
    );
    expect(response.batchItemFailures).toHaveLength(1);
    const sum = (name: string) => metrics.filter((m) => m.name === name).reduce((n, m) => n + m.value, 0);
    expect(sum('fieldsStale')).toBe(1);
    expect(sum('jobsHandedBack')).toBe(1);
    expect(sum('jobsApplied')).toBe(2);
  });

  it('acknowledges a job held back by a later redact, counts it as redacted (not as no-op fields), logs field names only', async () => {
    const links = createMemoryLinkStore();
    const match = { externalKey: 'shopify:s.myshopify.com:customer:5', email: 'gone@example.com' };
    await links.putLinks('7', match);
    await links.removeCustomerLinks('s.myshopify.com', '5');
    const { worker, metrics, logs } = setup({}, links);
    const body = JSON.stringify({
      version: 1,
      jobId: 'shopify:o1',
      source: 'shopify',
      match,
      patch: { firstName: 'Old', tag: 'x' },
      occurredAt: '2026-01-01T00:00:00Z',
    });
    const response = await worker.processBatch(
      { Records: [buildSqsRecord({ groupId: match.externalKey, body })] },
      Date.now() + 60_000,
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
    const names = metrics.map((m) => m.name);
    expect(names).toContain('jobsRedacted');
    expect(names).toContain('jobsSkipped');
    expect(names).not.toContain('fieldsNoOp');
    const line = logs.find((l) => l.message === 'patch job');
    expect(line?.data).toMatchObject({
      outcome: 'skipped',
      // In the patch schema's field order.
      dropped: [
        { field: 'tag', reason: 'redacted' },
        { field: 'firstName', reason: 'redacted' },
      ],
    });
    expect(JSON.stringify(logs)).not.toContain('Old');
    expect(JSON.stringify(logs)).not.toContain('gone@example.com');
  });

  it('logs a message group that is an email or phone only as a hash', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
    const { worker, logs } = setup();
    const byEmail = (jobId: string, email: string) =>
      JSON.stringify({
        version: 1,
        jobId,
        source: 'typeform',
        match: { email },
        patch: { firstName: 'Ada' },
        occurredAt: '2026-11-26T10:00:00Z',
      });
    const records = [
      buildSqsRecord({ groupId: 'ada@private.example', body: byEmail('e1', 'ada@private.example') }),
      buildSqsRecord({ groupId: '+15550100', body: byEmail('e2', 'bob@private.example') }),
      buildSqsRecord({
        groupId: 'shopify:s.myshopify.com:customer:42',
        body: byEmail('e3', 'cy@private.example'),
      }),
      buildSqsRecord({ groupId: '7', body: job('c1', { firstName: 'Ada' }) }),
    ];
    await worker.processBatch({ Records: records }, Date.now() + 60_000);
    expect(JSON.stringify(logs)).not.toMatch(/private\.example|15550100/);
    const group = (jobId: string) => {
      const data = logs.find((l) => l.data.jobId === jobId)?.data ?? {};
      return { groupId: data.groupId, groupHash: data.groupHash };
    };
    expect(group('e1')).toEqual({ groupId: undefined, groupHash: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(group('e2').groupHash).toMatch(/^[0-9a-f]{16}$/);
    expect(group('e2').groupHash).not.toBe(group('e1').groupHash);
    expect(group('e3')).toEqual({ groupId: 'shopify:s.myshopify.com:customer:42', groupHash: undefined });
    expect(group('c1')).toEqual({ groupId: '7', groupHash: undefined });
  });

  it('logs one line per record with ids and field names only, and emits the outcome metrics', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm' });
    const { worker, logs, metrics, published } = setup();
    const records = [
      buildSqsRecord({ groupId: '7', body: job('j1', { email: 'ada@private.example', firstName: 'Ada' }) }),
      buildSqsRecord({ groupId: '7', body: job('j1', { email: 'ada@private.example', firstName: 'Ada' }) }),
      buildSqsRecord({ groupId: '7', body: job('j2', { email: 'ada@private.example', firstName: 'Ada' }) }),
      buildSqsRecord({ groupId: 'x', body: '{"version":1}' }),
    ];
    const response = await worker.processBatch({ Records: records }, Date.now() + 60_000);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(logs.map((l) => l.data.outcome)).toEqual(
      expect.arrayContaining(['applied', 'duplicate', 'skipped', 'dead-letter']),
    );
    expect(logs.find((l) => l.data.outcome === 'applied')?.data).toMatchObject({
      jobId: 'j1',
      contactId: '7',
      source: 'typeform',
      sent: ['firstName', 'email'],
    });
    expect(logs.find((l) => l.data.outcome === 'skipped')?.data.dropped).toEqual([
      { field: 'firstName', reason: 'no-op' },
      { field: 'email', reason: 'no-op' },
    ]);
    expect(JSON.stringify(logs)).not.toMatch(/ada@private|"Ada"/);

    const names = metrics.map((m) => m.name);
    expect(names).toEqual(
      expect.arrayContaining(['jobsApplied', 'jobsDuplicate', 'jobsSkipped', 'fieldsNoOp', 'applyLatency']),
    );
    expect(metrics.find((m) => m.name === 'jobsDeadLettered')).toEqual({
      name: 'jobsDeadLettered',
      value: 1,
      dimension: 'invalid-job',
    });
    expect(published()).toBe(1);
    const dead = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(dead?.MessageBody).toBe('{"version":1}');
    expect(dead?.MessageDeduplicationId).toBe(records[3]?.messageId);
  });
});

describe('patch worker: contacts held by another invocation', () => {
  it('hands busy contacts back as contact-busy without opening the circuit breaker', async () => {
    let clock = Date.parse('2026-11-27T00:00:00Z');
    const state = createMemoryStateStore({ now: () => clock });
    const ids = ['1', '2', '3', '4'];
    for (const id of ids) await state.acquireContactLease(id, { owner: 'other', untilMs: clock + 70_000 });
    const breaker = createCircuitBreaker({ failureThreshold: 2, now: () => clock });
    const logs: Array<Record<string, unknown>> = [];
    const calls: string[] = [];
    const worker = createPatchWorker({
      clearTalk: {
        updateContact: async (id) => {
          calls.push(id);
          return contact;
        },
        getContact: async () => contact,
        createContact: async () => contact,
      },
      state,
      links: createMemoryLinkStore(),
      policy: () => ({ createIfUnresolved: false }),
      sqs,
      deadLetterQueueUrl: 'http://dlq',
      breaker,
      concurrency: 1,
      maxReceiveCount: 5,
      now: () => clock,
      lease: {
        waitMs: 1_000,
        sleep: async (ms) => {
          clock += ms;
        },
      },
      logger: {
        info: () => undefined,
        warn: (_message: string, data: Record<string, unknown>) => logs.push(data),
        error: () => undefined,
      } as never,
    });
    const records = ids.map((id) =>
      buildSqsRecord({
        groupId: id,
        body: JSON.stringify({ ...JSON.parse(job(`j${id}`, { firstName: 'A' })), contactId: id }),
      }),
    );
    const response = await worker.processBatch({ Records: records }, clock + 60_000);
    expect(response.batchItemFailures).toHaveLength(4);
    expect(logs.map((line) => line.errorCode)).toEqual([
      'contact-busy',
      'contact-busy',
      'contact-busy',
      'contact-busy',
    ]);
    expect(breaker.state()).toBe('closed');
    expect(calls).toEqual([]);

    // Once the other invocation is done, the redelivery goes through.
    for (const id of ids) await state.releaseContactLease(id, 'other');
    expect((await worker.processBatch({ Records: records }, clock + 60_000)).batchItemFailures).toEqual([]);
    expect(calls.sort()).toEqual(ids);
  });
});
