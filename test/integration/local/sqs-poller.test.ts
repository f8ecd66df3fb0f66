import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { queueDepth } from '../../../tools/local/queue-tools.js';
import {
  pollOnce,
  type SqsBatchHandler,
  selectFailedRecords,
  startSqsPoller,
} from '../../../tools/local/sqs-poller.js';

const sqs = new SQSClient({});
let queueUrl: string;

async function sendAll(
  messages: Array<{ body: string; group: string; attributes?: Record<string, string> }>,
) {
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((message, i) => ({
        Id: String(i),
        MessageBody: message.body,
        MessageGroupId: message.group,
        MessageDeduplicationId: randomUUID(),
        ...(message.attributes
          ? {
              MessageAttributes: Object.fromEntries(
                Object.entries(message.attributes).map(([k, v]) => [
                  k,
                  { DataType: 'String', StringValue: v },
                ]),
              ),
            }
          : {}),
      })),
    }),
  );
}

function visibleCount(): Promise<number> {
  return queueDepth(sqs, queueUrl);
}

/** A handler that records what it was given and answers with `answer(event)`. */
function recordingHandler(answer: (event: SQSEvent) => unknown = () => ({ batchItemFailures: [] })) {
  const batches: SQSRecord[][] = [];
  const handler: SqsBatchHandler = async (event, context) => {
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(0);
    batches.push(event.Records);
    return answer(event);
  };
  return { handler, batches };
}

beforeEach(async () => {
  const out = await sqs.send(
    new CreateQueueCommand({
      QueueName: `poller-${randomUUID().slice(0, 8)}.fifo`,
      Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false', VisibilityTimeout: '300' },
    }),
  );
  queueUrl = out.QueueUrl ?? '';
});

describe('sqs poller', () => {
  it('hands the handler records in the shape Lambda delivers them', async () => {
    await sendAll([{ body: '{"n":1}', group: 'contact-7', attributes: { source: 'test' } }]);
    const { handler, batches } = recordingHandler();
    const report = await pollOnce({ sqs, queueUrl, handler, waitTimeSeconds: 0, functionTimeoutMs: 60_000 });
    expect(report).toMatchObject({ received: 1, deleted: 1, failed: [] });
    const record = batches[0]?.[0];
    expect(record).toMatchObject({
      body: '{"n":1}',
      eventSource: 'aws:sqs',
      eventSourceARN: expect.stringMatching(/^arn:aws:sqs:us-east-1:\d+:poller-.*\.fifo$/),
      awsRegion: 'us-east-1',
      attributes: {
        ApproximateReceiveCount: '1',
        MessageGroupId: 'contact-7',
        MessageDeduplicationId: expect.any(String),
        SequenceNumber: expect.any(String),
        SentTimestamp: expect.any(String),
      },
      messageAttributes: {
        source: { stringValue: 'test', dataType: 'String', stringListValues: [], binaryListValues: [] },
      },
    });
    expect(record?.messageId).toMatch(/\S+/);
    expect(record?.receiptHandle).toMatch(/\S+/);
    expect(record?.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
  });

  it('deletes the records that succeeded and leaves the failed ones to come back', async () => {
    await sendAll([
      { body: 'a1', group: 'a' },
      { body: 'b1', group: 'b' },
      { body: 'c1', group: 'c' },
    ]);
    const { handler, batches } = recordingHandler((event) => ({
      batchItemFailures: event.Records.filter((r) => r.body === 'b1').map((r) => ({
        itemIdentifier: r.messageId,
      })),
    }));
    const first = await pollOnce({ sqs, queueUrl, handler, waitTimeSeconds: 0, retryVisibilitySeconds: 0 });
    expect(first.received).toBe(3);
    expect(first.deleted).toBe(2);
    expect(first.failed).toHaveLength(1);
    // Only the failed record is still on the queue, and it comes back with a higher receive count.
    expect(await visibleCount()).toBe(1);
    const second = await pollOnce({ sqs, queueUrl, handler, waitTimeSeconds: 0, retryVisibilitySeconds: 0 });
    expect(second.received).toBe(1);
    expect(batches[1]?.[0]?.body).toBe('b1');
    expect(batches[1]?.[0]?.attributes.ApproximateReceiveCount).toBe('2');
  });

  it('keeps a failed record invisible for the queue visibility timeout, as Lambda does', async () => {
    await sendAll([{ body: 'x', group: 'x' }]);
    const { handler } = recordingHandler((event) => ({
      batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })),
    }));
    await pollOnce({ sqs, queueUrl, handler, waitTimeSeconds: 0 });
    const again = await pollOnce({ sqs, queueUrl, handler, waitTimeSeconds: 0 });
    expect(again.received).toBe(0);
    expect(await visibleCount()).toBe(1);
  });

  it('retries the whole batch when the handler throws', async () => {
    await sendAll([
      { body: 'a', group: 'a' },
      { body: 'b', group: 'b' },
    ]);
    const boom = new Error('boom');
    const report = await pollOnce({
      sqs,
      queueUrl,
      waitTimeSeconds: 0,
      retryVisibilitySeconds: 0,
      handler: async () => {
        throw boom;
      },
    });
    expect(report).toMatchObject({ received: 2, deleted: 0, batchError: boom });
    expect(report.failed).toHaveLength(2);
    expect(await visibleCount()).toBe(2);
  });

  it('runs until stopped, feeding every batch to the handler', async () => {
    await sendAll(Array.from({ length: 10 }, (_, i) => ({ body: String(i), group: `g${i % 3}` })));
    await sendAll(Array.from({ length: 5 }, (_, i) => ({ body: String(10 + i), group: `g${i % 3}` })));
    const { handler, batches } = recordingHandler();
    const poller = await startSqsPoller({ sqs, queueUrl, handler, waitTimeSeconds: 1 });
    const deadline = Date.now() + 20_000;
    while (poller.stats().deleted < 15 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await poller.stop();
    expect(poller.stats()).toMatchObject({ received: 15, deleted: 15, failed: 0 });
    for (const batch of batches) expect(batch.length).toBeLessThanOrEqual(10);
    // FIFO order holds within each group.
    const bodies = batches.flat();
    for (const group of ['g0', 'g1', 'g2']) {
      const inGroup = bodies.filter((r) => r.attributes.MessageGroupId === group).map((r) => Number(r.body));
      expect(inGroup).toEqual([...inGroup].sort((x, y) => x - y));
    }
    expect(await visibleCount()).toBe(0);
  });
});

describe('sqs poller on an empty queue', () => {
  it('pauses between short polls instead of spinning', async () => {
    let receives = 0;
    const sleeps: number[] = [];
    const fakeSqs = {
      send: async () => {
        receives++;
        return { Messages: [] };
      },
    } as unknown as SQSClient;
    const poller = await startSqsPoller({
      sqs: fakeSqs,
      queueUrl: 'https://example.invalid/q.fifo',
      queueArn: 'arn:aws:sqs:us-east-1:000000000000:q.fifo',
      handler: async () => ({ batchItemFailures: [] }),
      waitTimeSeconds: 0,
      sleep: async (ms) => {
        sleeps.push(ms);
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await poller.stop();
    expect(receives).toBeGreaterThan(0);
    // Every empty receive was followed by the idle pause (the last one may still be pending).
    expect(sleeps.length).toBeGreaterThanOrEqual(receives - 1);
    expect(new Set(sleeps)).toEqual(new Set([100]));
  });
});

describe('selectFailedRecords (Lambda reading a batch response)', () => {
  const records = [{ messageId: 'm1' }, { messageId: 'm2' }] as SQSRecord[];

  it('treats no answer and an empty list as full success', () => {
    expect(selectFailedRecords(records, undefined)).toEqual({ kind: 'some', failed: new Set() });
    expect(selectFailedRecords(records, { batchItemFailures: [] })).toEqual({
      kind: 'some',
      failed: new Set(),
    });
  });

  it('names the failed records', () => {
    expect(selectFailedRecords(records, { batchItemFailures: [{ itemIdentifier: 'm2' }] })).toEqual({
      kind: 'some',
      failed: new Set(['m2']),
    });
  });

  it('fails the whole batch on an identifier that is empty or not in the batch', () => {
    expect(selectFailedRecords(records, { batchItemFailures: [{ itemIdentifier: '' }] }).kind).toBe('all');
    expect(selectFailedRecords(records, { batchItemFailures: [{ itemIdentifier: 'other' }] }).kind).toBe(
      'all',
    );
    expect(selectFailedRecords(records, { batchItemFailures: 'm1' }).kind).toBe('all');
  });
});
