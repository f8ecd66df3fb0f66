import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { afterEach } from 'vitest';
import { createCreationClaims } from '../../lib/aws/creation-claims.js';
import { createLinkStore } from '../../lib/aws/links.js';
import { createSecretCache } from '../../lib/aws/secrets.js';
import { enqueuePatchJobs } from '../../lib/aws/sqs.js';
import { createStateStore } from '../../lib/aws/state-store.js';
import { createClearTalkClient } from '../../lib/cleartalk/client.js';
import { type CircuitBreaker, clientHooksFor, createCircuitBreaker } from '../../lib/jobs/circuit-breaker.js';
import type { PatchJob } from '../../lib/jobs/patch-job.js';
import { createPatchWorker, type PatchWorker } from '../../lib/jobs/worker.js';
import { type ProvisionedStack, provisionStack } from '../../tools/provision.js';
import { type Sandbox, startSandbox } from '../../tools/sandbox/server.js';

/**
 * The worker wired to real local servers: a provisioned stack on moto (FIFO queue, DLQ, state
 * table), the API key in moto Secrets Manager and the ClearTalk sandbox over HTTP. The clock is
 * injected: the ClearTalk client's sleeps advance it instead of waiting.
 */
export interface WorkerHarness {
  readonly stack: ProvisionedStack;
  readonly sandbox: Sandbox;
  readonly sqs: SQSClient;
  readonly doc: DynamoDBDocumentClient;
  readonly secretId: string;
  readonly breaker: CircuitBreaker;
  /** The injected clock (epoch ms). */
  now(): number;
  advance(ms: number): void;
  /** Every sleep the ClearTalk client asked for. */
  readonly sleeps: number[];
  send(...jobs: PatchJob[]): Promise<void>;
  /** Sends a body with a fresh deduplication id (a producer's redelivery outside SQS's window). */
  sendRaw(body: string, groupId: string): Promise<void>;
  /**
   * Receives one batch (<= 10) like Lambda's event source, runs the worker with `budgetMs` of
   * time, deletes the records not in batchItemFailures and makes the failed ones visible again.
   */
  runBatch(options?: {
    budgetMs?: number;
    /** Another worker (see `createWorker`) instead of the harness's own. */
    worker?: PatchWorker;
    /** @default 10 */
    maxMessages?: number;
  }): Promise<{ records: SQSRecord[]; response: SQSBatchResponse }>;
  /**
   * A second worker on the same stack, sandbox and clock, as another Lambda invocation would be
   * (its own in-process lock and breaker, or `breaker`); `clearTalkSleep` replaces its ClearTalk
   * client's sleep.
   */
  createWorker(options?: {
    clearTalkSleep?: (ms: number) => Promise<void>;
    breaker?: CircuitBreaker;
  }): PatchWorker;
  /** Runs batches until the queue gives nothing. */
  drain(options?: { budgetMs?: number; maxBatches?: number }): Promise<void>;
  rotateApiKey(key: string): Promise<void>;
  patchRequests(): ReturnType<Sandbox['requests']>;
  stop(): Promise<void>;
}

export interface WorkerHarnessOptions {
  createIfUnresolved?: boolean;
  maxReceiveCount?: number;
  maxAttempts?: number;
  concurrency?: number;
  breaker?: { failureThreshold?: number; cooldownMs?: number };
}

/**
 * For a test file: registers an afterEach that stops the harness the test started, and returns
 * the function a test calls to start one.
 */
export function useWorkerHarness(): (options?: WorkerHarnessOptions) => Promise<WorkerHarness> {
  let harness: WorkerHarness | undefined;
  afterEach(async () => {
    await harness?.stop();
    harness = undefined;
  });
  return async (options = {}) => {
    harness = await createWorkerHarness(options);
    return harness;
  };
}

export async function createWorkerHarness(options: WorkerHarnessOptions = {}): Promise<WorkerHarness> {
  const stack = await provisionStack({
    prefix: `wk-${randomUUID().slice(0, 8)}`,
    visibilityTimeoutSeconds: 30,
  });
  const sandbox = await startSandbox({ port: 0, quiet: true, apiKey: `key-${randomUUID()}` });
  const sqs = new SQSClient({});
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const secretsClient = new SecretsManagerClient({});
  const secretId = `worker-test/${randomUUID()}`;
  await secretsClient.send(
    new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ value: sandbox.apiKey }) }),
  );

  let clock = Date.parse('2026-11-27T00:00:00Z');
  const now = () => clock;
  const sleeps: number[] = [];
  const secrets = createSecretCache({ client: secretsClient, now });
  const breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 30_000, ...options.breaker, now });
  const buildWorker = (
    workerBreaker: CircuitBreaker,
    clearTalkSleep?: (ms: number) => Promise<void>,
  ): PatchWorker =>
    createPatchWorker({
      clearTalk: createClearTalkClient({
        baseUrl: sandbox.url,
        getApiKey: async ({ forceRefresh }) => (await secrets.get(secretId, { forceRefresh })).value,
        maxAttempts: options.maxAttempts ?? 4,
        timeoutMs: 5_000,
        now,
        sleep:
          clearTalkSleep ??
          (async (ms) => {
            sleeps.push(ms);
            clock += ms;
          }),
        random: () => 0.5,
        // As the deployed worker wires it (lib/jobs/runtime.ts).
        ...clientHooksFor(workerBreaker),
      }),
      state: createStateStore({ client: doc, tableName: stack.STATE_TABLE_NAME, now }),
      links: {
        // On the harness clock: redact tombstones expire on it (lib/aws/links.ts).
        ...createLinkStore({ client: doc, tableName: stack.STATE_TABLE_NAME, now: () => new Date(now()) }),
        // The creation claims expire on the clock of the deadline, as the leases do.
        ...createCreationClaims({ client: doc, tableName: stack.STATE_TABLE_NAME, now }),
      },
      policy: () => ({ createIfUnresolved: options.createIfUnresolved ?? false }),
      sqs,
      deadLetterQueueUrl: stack.DEAD_LETTER_QUEUE_URL,
      breaker: workerBreaker,
      concurrency: options.concurrency ?? 4,
      maxReceiveCount: options.maxReceiveCount ?? 5,
      now,
      // Waiting for another invocation's contact lease advances the clock instead of waiting.
      lease: {
        sleep: async (ms) => {
          clock += ms;
        },
      },
    });
  const worker = buildWorker(breaker);

  const toRecord = (message: Message): SQSRecord =>
    ({
      messageId: message.MessageId ?? '',
      receiptHandle: message.ReceiptHandle ?? '',
      body: message.Body ?? '',
      attributes: message.Attributes ?? {},
      messageAttributes: {},
      md5OfBody: message.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:test.fifo',
      awsRegion: 'us-east-1',
    }) as SQSRecord;

  const harness: WorkerHarness = {
    stack,
    sandbox,
    sqs,
    doc,
    secretId,
    breaker,
    now,
    advance: (ms) => {
      clock += ms;
    },
    sleeps,
    async send(...jobs) {
      await enqueuePatchJobs(sqs, stack.PATCH_QUEUE_URL, jobs);
    },
    async sendRaw(body, groupId) {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: stack.PATCH_QUEUE_URL,
          MessageBody: body,
          MessageGroupId: groupId,
          MessageDeduplicationId: randomUUID(),
        }),
      );
    },
    createWorker: ({ clearTalkSleep, breaker: own } = {}) =>
      buildWorker(
        own ?? createCircuitBreaker({ failureThreshold: 3, cooldownMs: 30_000, ...options.breaker, now }),
        clearTalkSleep,
      ),
    async runBatch({ budgetMs = 60_000, worker: runner = worker, maxMessages = 10 } = {}) {
      const out = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: stack.PATCH_QUEUE_URL,
          MaxNumberOfMessages: maxMessages,
          WaitTimeSeconds: 0,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      const records = (out.Messages ?? []).map(toRecord);
      if (records.length === 0) return { records, response: { batchItemFailures: [] } };
      const response = await runner.processBatch({ Records: records }, clock + budgetMs);
      const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
      const done = records.filter((r) => !failed.has(r.messageId));
      const retry = records.filter((r) => failed.has(r.messageId));
      if (done.length > 0) {
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: stack.PATCH_QUEUE_URL,
            Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
          }),
        );
      }
      if (retry.length > 0) {
        await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: stack.PATCH_QUEUE_URL,
            Entries: retry.map((r, i) => ({
              Id: String(i),
              ReceiptHandle: r.receiptHandle,
              VisibilityTimeout: 0,
            })),
          }),
        );
      }
      return { records, response };
    },
    async drain({ budgetMs, maxBatches = 20 } = {}) {
      for (let i = 0; i < maxBatches; i++) {
        const { records } = await harness.runBatch(budgetMs === undefined ? {} : { budgetMs });
        if (records.length === 0) return;
      }
      throw new Error(`queue not drained after ${maxBatches} batches`);
    },
    async rotateApiKey(key) {
      sandbox.setApiKey(key);
      await secretsClient.send(
        new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ value: key }) }),
      );
    },
    patchRequests: () => sandbox.requests().filter((r) => r.method === 'PATCH'),
    stop: () => sandbox.stop(),
  };
  return harness;
}

/** Reads (without deleting) the dead letters with their reason attributes. */
export async function readDeadLetters(
  sqs: SQSClient,
  deadLetterQueueUrl: string,
): Promise<Array<{ body: string; attributes: Record<string, string | undefined> }>> {
  const out = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: deadLetterQueueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      VisibilityTimeout: 0,
      MessageAttributeNames: ['All'],
    }),
  );
  return (out.Messages ?? []).map((message) => ({
    body: message.Body ?? '',
    attributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue]),
    ),
  }));
}

let counter = 0;

/** A PatchJob with a unique jobId; overrides for what the test cares about. */
export function buildJob(overrides: Partial<PatchJob> = {}): PatchJob {
  counter += 1;
  return {
    version: 1,
    jobId: `test:${randomUUID()}:${counter}`,
    source: 'typeform',
    contactId: '1',
    patch: { firstName: 'Ada' },
    occurredAt: '2026-11-26T10:00:00Z',
    ...overrides,
  };
}
