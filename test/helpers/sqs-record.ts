import { randomUUID } from 'node:crypto';
import type { SQSRecord } from 'aws-lambda';

/** An SQS FIFO record as Lambda delivers it; overrides for the parts a test cares about. */
export function buildSqsRecord(
  overrides: { body?: string; groupId?: string; receiveCount?: number; messageId?: string } = {},
): SQSRecord {
  const messageId = overrides.messageId ?? randomUUID();
  return {
    messageId,
    receiptHandle: `handle-${messageId}`,
    body: overrides.body ?? '{}',
    attributes: {
      ApproximateReceiveCount: String(overrides.receiveCount ?? 1),
      SentTimestamp: '1795000000000',
      SenderId: 'AIDATEST',
      ApproximateFirstReceiveTimestamp: '1795000000000',
      MessageGroupId: overrides.groupId ?? 'group-1',
      MessageDeduplicationId: `dedup-${messageId}`,
      SequenceNumber: '1',
    },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:test-patches.fifo',
    awsRegion: 'us-east-1',
  };
}
