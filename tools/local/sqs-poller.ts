import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { createLambdaContext } from './lambda-context.js';

/**
 * A local stand-in for Lambda's SQS event source mapping: it receives from a (FIFO) queue,
 * hands the batch to a handler in the exact SQS event shape, and deletes only the records the
 * handler did not report in `batchItemFailures`. Failed records stay on the queue and come
 * back after the visibility timeout, exactly as they do under Lambda.
 */

type Sqs = Pick<SQSClient, 'send'>;

/**
 * A worker handler as Lambda calls it (`handlers/apply-patches.ts` has this shape). Its answer
 * is read as Lambda reads it: `{ batchItemFailures }`, or nothing when every record succeeded.
 */
export type SqsBatchHandler = (
  event: SQSEvent,
  context: Context,
  callback: (error?: unknown, result?: unknown) => void,
) => unknown;

/** What one receive-and-dispatch cycle did. */
export interface PollReport {
  readonly received: number;
  /** Records deleted from the queue (the handler succeeded with them). */
  readonly deleted: number;
  /** Message ids left on the queue to come back after the visibility timeout. */
  readonly failed: readonly string[];
  /** Set when the handler threw or answered with an invalid `batchItemFailures` (whole batch retried). */
  readonly batchError?: unknown;
  readonly durationMs: number;
}

export interface SqsPollerOptions {
  readonly sqs: Sqs;
  readonly queueUrl: string;
  readonly handler: SqsBatchHandler;
  /** Lambda's batch size; at most 10 for a FIFO queue. @default 10 */
  readonly batchSize?: number;
  /** Long-poll wait per receive. @default 1 */
  readonly waitTimeSeconds?: number;
  /** Pause after an empty short poll (`waitTimeSeconds: 0`). @default 100 */
  readonly idleSleepMs?: number;
  /** The worker's configured timeout, for `context.getRemainingTimeInMillis()`. @default 30000 */
  readonly functionTimeoutMs?: number;
  readonly functionName?: string;
  /** Poll loops running side by side (Lambda runs several batches of different groups at once). @default 1 */
  readonly concurrency?: number;
  /**
   * When set, failed records are made visible again after this many seconds instead of the
   * queue's visibility timeout. Lambda does not do this; it is a local speed-up for tests.
   */
  readonly retryVisibilitySeconds?: number;
  /** The queue ARN for `eventSourceARN`; read from the queue when omitted. */
  readonly queueArn?: string;
  readonly region?: string;
  readonly onReport?: (report: PollReport) => void;
  /** Called when talking to SQS itself fails; the loop backs off and carries on. */
  readonly onError?: (error: unknown) => void;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A running poller. */
export interface SqsPoller {
  /** Stops receiving, lets the batches in flight finish, then resolves. */
  stop(): Promise<void>;
  /** Totals since start. */
  stats(): { batches: number; received: number; deleted: number; failed: number };
}

/** Converts a received SQS message into the record Lambda would put in the event. */
export function toSqsRecord(message: Message, source: { queueArn: string; region: string }): SQSRecord {
  const attributes = (message.Attributes ?? {}) as Record<string, string>;
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      stringListValues: [],
      binaryListValues: [],
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }
        : {}),
    };
  }
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? '0',
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '0',
      ...attributes,
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    ...(message.MD5OfMessageAttributes !== undefined
      ? { md5OfMessageAttributes: message.MD5OfMessageAttributes }
      : {}),
    eventSource: 'aws:sqs',
    eventSourceARN: source.queueArn,
    awsRegion: source.region,
  };
}

/**
 * Lambda's reading of a handler's answer: the message ids to leave on the queue, or `all` when
 * the handler threw or named an item that is not in the batch (Lambda then retries the whole batch).
 */
export function selectFailedRecords(
  records: readonly SQSRecord[],
  response: unknown,
): { kind: 'some'; failed: Set<string> } | { kind: 'all'; reason: string } {
  if (response === undefined || response === null) return { kind: 'some', failed: new Set() };
  if (typeof response !== 'object') return { kind: 'all', reason: 'handler returned a non-object' };
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'some', failed: new Set() };
  if (!Array.isArray(failures)) return { kind: 'all', reason: 'batchItemFailures is not an array' };
  const ids = new Set(records.map((record) => record.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = (failure as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || id === '' || !ids.has(id)) {
      return { kind: 'all', reason: 'batchItemFailures names an item that is not in the batch' };
    }
    failed.add(id);
  }
  return { kind: 'some', failed };
}

async function readQueueArn(sqs: Sqs, queueUrl: string): Promise<string> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${queueUrl} has no QueueArn attribute`);
  return arn;
}

type ResolvedOptions = Required<
  Pick<
    SqsPollerOptions,
    'sqs' | 'queueUrl' | 'handler' | 'batchSize' | 'waitTimeSeconds' | 'functionTimeoutMs' | 'functionName'
  >
> &
  SqsPollerOptions & { queueArn: string; region: string; now: () => number };

async function resolveOptions(options: SqsPollerOptions): Promise<ResolvedOptions> {
  const batchSize = options.batchSize ?? 10;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
    throw new Error('batchSize must be an integer from 1 to 10 (the FIFO event source limit)');
  }
  return {
    ...options,
    batchSize,
    waitTimeSeconds: options.waitTimeSeconds ?? 1,
    functionTimeoutMs: options.functionTimeoutMs ?? 30_000,
    functionName: options.functionName ?? 'apply-patches',
    queueArn: options.queueArn ?? (await readQueueArn(options.sqs, options.queueUrl)),
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    now: options.now ?? Date.now,
  };
}

const rejectCallback = () => {
  throw new Error('callback-style handlers are not supported: return a promise');
};

async function dispatchBatch(
  options: ResolvedOptions,
  messages: readonly Message[],
  started: number,
): Promise<PollReport> {
  const { sqs, queueUrl } = options;
  const records = messages.map((message) => toSqsRecord(message, options));
  const context = createLambdaContext({
    functionName: options.functionName,
    timeoutMs: options.functionTimeoutMs,
    region: options.region,
    now: options.now,
  });
  let verdict: ReturnType<typeof selectFailedRecords>;
  let batchError: unknown;
  try {
    verdict = selectFailedRecords(
      records,
      await options.handler({ Records: records }, context, rejectCallback),
    );
    if (verdict.kind === 'all') batchError = new Error(verdict.reason);
  } catch (error) {
    verdict = { kind: 'all', reason: 'handler threw' };
    batchError = error;
  }
  const failedIds = verdict.kind === 'all' ? new Set(records.map((r) => r.messageId)) : verdict.failed;
  const done = records.filter((record) => !failedIds.has(record.messageId));
  const failed = records.filter((record) => failedIds.has(record.messageId));
  if (done.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: done.map((record, i) => ({ Id: String(i), ReceiptHandle: record.receiptHandle })),
      }),
    );
  }
  if (failed.length > 0 && options.retryVisibilitySeconds !== undefined) {
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: failed.map((record, i) => ({
          Id: String(i),
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: options.retryVisibilitySeconds,
        })),
      }),
    );
  }
  return {
    received: records.length,
    deleted: done.length,
    failed: failed.map((record) => record.messageId),
    ...(batchError !== undefined ? { batchError } : {}),
    durationMs: options.now() - started,
  };
}

async function receiveAndDispatch(options: ResolvedOptions, abortSignal?: AbortSignal): Promise<PollReport> {
  const started = options.now();
  const out = await options.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: options.queueUrl,
      MaxNumberOfMessages: options.batchSize,
      WaitTimeSeconds: options.waitTimeSeconds,
      // Lambda asks for every system attribute (MessageGroupId, SequenceNumber, receive count…).
      MessageSystemAttributeNames: ['All'],
      MessageAttributeNames: ['All'],
    }),
    abortSignal ? { abortSignal } : {},
  );
  const messages = out.Messages ?? [];
  if (messages.length === 0)
    return { received: 0, deleted: 0, failed: [], durationMs: options.now() - started };
  return dispatchBatch(options, messages, started);
}

/**
 * Runs one receive → handler → delete cycle (for tests and scripted runs that want to step).
 * @throws when SQS itself cannot be reached; a handler failure is reported, not thrown
 */
export async function pollOnce(options: SqsPollerOptions): Promise<PollReport> {
  return receiveAndDispatch(await resolveOptions(options));
}

/** Starts polling the queue until `stop()` and feeds every batch to the handler. */
export async function startSqsPoller(options: SqsPollerOptions): Promise<SqsPoller> {
  const resolved = await resolveOptions(options);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const totals = { batches: 0, received: 0, deleted: 0, failed: 0 };
  const abort = new AbortController();
  let stopping = false;

  const loop = async () => {
    let backoffMs = 100;
    while (!stopping) {
      try {
        const report = await receiveAndDispatch(resolved, abort.signal);
        backoffMs = 100;
        if (report.received === 0) {
          // A short poll (waitTimeSeconds 0) on an empty queue would otherwise spin.
          if (resolved.waitTimeSeconds === 0) await sleep(options.idleSleepMs ?? 100);
          continue;
        }
        totals.batches++;
        totals.received += report.received;
        totals.deleted += report.deleted;
        totals.failed += report.failed.length;
        options.onReport?.(report);
      } catch (error) {
        if (stopping) break;
        options.onError?.(error);
        await sleep(backoffMs);
        backoffMs = Math.min(5_000, backoffMs * 2);
      }
    }
  };

  const loops = Array.from({ length: options.concurrency ?? 1 }, () => loop());
  return {
    stats: () => ({ ...totals }),
    stop: async () => {
      stopping = true;
      // Aborts only a receive that is still waiting; a batch already in the handler finishes.
      abort.abort();
      await Promise.all(loops);
    },
  };
}
