import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { DependencyError } from '../errors.js';
import { contactKey, deduplicationId } from '../jobs/fifo-keys.js';
import type { PatchJob } from '../jobs/patch-job.js';

/** Message attributes of a dead letter (DESIGN.md). */
export interface DeadLetterReason {
  /** A stable code: `invalid-job`, `unresolved-contact`, `contact-not-found`, `rejected`, … */
  readonly errorReason: string;
  readonly errorStatus?: number;
  /** What went wrong, without contact values. */
  readonly errorMessage: string;
}

type Sqs = Pick<SQSClient, 'send'>;

/** Builds the FIFO send parameters for a job: group = contact key, deduplication id from jobId. */
export function toQueueEntry(job: PatchJob, id: string): SendMessageBatchRequestEntry {
  return {
    Id: id,
    MessageBody: JSON.stringify(job),
    MessageGroupId: contactKey(job),
    MessageDeduplicationId: deduplicationId(job.jobId),
  };
}

/**
 * Sends one PatchJob to the FIFO queue.
 * @throws {DependencyError} when SQS does not take it (the caller answers 503 / retries)
 */
export async function enqueuePatchJob(
  sqs: Sqs,
  queueUrl: string,
  job: PatchJob,
): Promise<{ messageId: string }> {
  const { Id: _id, ...entry } = toQueueEntry(job, '0');
  try {
    const out = await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, ...entry }));
    return { messageId: out.MessageId ?? '' };
  } catch (error) {
    throw new DependencyError('sqs', `could not enqueue job (${(error as Error).name ?? 'Error'})`, {
      cause: error,
    });
  }
}

/**
 * Sends PatchJobs in batches of 10 (the SQS limit), retrying entries SQS reports as failed
 * (up to `attempts` rounds). Returns only when every job is on the queue.
 * @throws {DependencyError} when some jobs still could not be sent (names their jobIds)
 */
export async function enqueuePatchJobs(
  sqs: Sqs,
  queueUrl: string,
  jobs: readonly PatchJob[],
  options: {
    attempts?: number;
    sleep?: (ms: number) => Promise<void>;
    /** Told how many jobs each SendMessageBatch put on the queue. */
    onEnqueued?: (count: number) => void;
  } = {},
): Promise<void> {
  const attempts = options.attempts ?? 4;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let start = 0; start < jobs.length; start += 10) {
    let pending = jobs.slice(start, start + 10).map((job, i) => toQueueEntry(job, String(i)));
    const byId = new Map(pending.map((entry, i) => [entry.Id, jobs[start + i]] as const));
    for (let attempt = 1; pending.length > 0; attempt++) {
      let failedIds: string[];
      try {
        const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: pending }));
        failedIds = (out.Failed ?? []).map((failure) => failure.Id ?? '');
      } catch (error) {
        if (attempt >= attempts) {
          throw new DependencyError('sqs', `could not enqueue ${pending.length} jobs`, { cause: error });
        }
        failedIds = pending.map((entry) => entry.Id ?? '');
      }
      const before = pending.length;
      pending = pending.filter((entry) => failedIds.includes(entry.Id ?? ''));
      if (pending.length < before) options.onEnqueued?.(before - pending.length);
      if (pending.length > 0 && attempt >= attempts) {
        const ids = pending.map((entry) => byId.get(entry.Id)?.jobId).join(', ');
        throw new DependencyError('sqs', `SQS refused jobs after ${attempts} attempts: ${ids}`);
      }
      if (pending.length > 0) await sleep(Math.min(2_000, 100 * 2 ** attempt));
    }
  }
}

/** Sends a message body to the dead-letter queue with its reason as message attributes. */
export async function sendDeadLetter(
  sqs: Sqs,
  deadLetterQueueUrl: string,
  message: { body: string; groupId: string; deduplicationId: string },
  reason: DeadLetterReason,
): Promise<void> {
  const attributes: Record<string, { DataType: string; StringValue: string }> = {
    errorReason: { DataType: 'String', StringValue: reason.errorReason },
    errorMessage: { DataType: 'String', StringValue: reason.errorMessage.slice(0, 1_000) || '-' },
  };
  if (reason.errorStatus !== undefined) {
    attributes.errorStatus = { DataType: 'Number', StringValue: String(reason.errorStatus) };
  }
  try {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MessageBody: message.body,
        MessageGroupId: message.groupId,
        MessageDeduplicationId: message.deduplicationId,
        MessageAttributes: attributes,
      }),
    );
  } catch (error) {
    throw new DependencyError('sqs', `could not dead-letter message (${(error as Error).name ?? 'Error'})`, {
      cause: error,
    });
  }
}
