import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { enqueuePatchJob, enqueuePatchJobs, sendDeadLetter, toQueueEntry } from '../../../lib/aws/sqs.js';
import { DependencyError } from '../../../lib/errors.js';
import { deduplicationId } from '../../../lib/jobs/fifo-keys.js';
import type { PatchJob } from '../../../lib/jobs/patch-job.js';

function job(n: number): PatchJob {
  return {
    version: 1,
    jobId: `typeform:form:token-${n}`,
    source: 'typeform',
    match: { email: `p${n}@example.com` },
    patch: { firstName: 'Ada' },
    occurredAt: '2026-11-26T10:00:00Z',
  };
}

/** A fake SQS whose batch answer is chosen per call; records what it was sent. */
function fakeSqs(answer: (entries: SendMessageBatchRequestEntry[], call: number) => unknown) {
  const batches: SendMessageBatchRequestEntry[][] = [];
  return {
    batches,
    async send(command: unknown) {
      if (!(command instanceof SendMessageBatchCommand)) throw new Error('unexpected command');
      const entries = command.input.Entries ?? [];
      batches.push(entries);
      return answer(entries, batches.length);
    },
  };
}

const sent = (entries: SendMessageBatchRequestEntry[]) =>
  entries.map((e) => JSON.parse(e.MessageBody ?? '').jobId);

describe('toQueueEntry', () => {
  it('groups by the contact key and deduplicates by a hash of the jobId', () => {
    const entry = toQueueEntry({ ...job(1), contactId: '42' }, '3');
    expect(entry).toMatchObject({
      Id: '3',
      MessageGroupId: '42',
      MessageDeduplicationId: deduplicationId(job(1).jobId),
    });
    expect(toQueueEntry(job(1), '0').MessageGroupId).toBe('p1@example.com');
  });
});

describe('enqueuePatchJob', () => {
  it('turns an SQS failure into a dependency error', async () => {
    const sqs = {
      send: async (command: unknown) => {
        expect(command).toBeInstanceOf(SendMessageCommand);
        throw Object.assign(new Error('down'), { name: 'QueueDoesNotExist' });
      },
    };
    await expect(enqueuePatchJob(sqs, 'q', job(1))).rejects.toBeInstanceOf(DependencyError);
  });
});

describe('enqueuePatchJobs', () => {
  it('sends batches of at most 10', async () => {
    const sqs = fakeSqs(() => ({ Successful: [] }));
    const jobs = Array.from({ length: 23 }, (_, i) => job(i));
    await enqueuePatchJobs(sqs, 'q', jobs);
    expect(sqs.batches.map((b) => b.length)).toEqual([10, 10, 3]);
    expect(sqs.batches.flatMap(sent)).toEqual(jobs.map((j) => j.jobId));
  });

  it('resends only the entries SQS reports as failed, after a back-off', async () => {
    const sleeps: number[] = [];
    const sqs = fakeSqs((entries, call) => ({
      Failed: call === 1 ? [{ Id: entries[1]?.Id, Code: 'InternalError', SenderFault: false }] : [],
    }));
    await enqueuePatchJobs(sqs, 'q', [job(0), job(1), job(2)], { sleep: async (ms) => void sleeps.push(ms) });
    expect(sqs.batches.map(sent)).toEqual([[job(0).jobId, job(1).jobId, job(2).jobId], [job(1).jobId]]);
    expect(sleeps).toHaveLength(1);
  });

  it('reports how many jobs each call put on the queue, also when it then gives up', async () => {
    const counts: number[] = [];
    // The first batch goes out whole, the second keeps one entry refused to the end.
    const sqs = fakeSqs((entries, call) => ({
      Failed: call === 1 ? [] : [{ Id: entries.at(-1)?.Id, Code: 'x', SenderFault: false }],
    }));
    const jobs = Array.from({ length: 13 }, (_, i) => job(i));
    const error = await enqueuePatchJobs(sqs, 'q', jobs, {
      attempts: 2,
      sleep: async () => {},
      onEnqueued: (count) => counts.push(count),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect(counts).toEqual([10, 2]);
  });

  it('throws naming the jobs SQS still refuses after the last attempt', async () => {
    const sqs = fakeSqs((entries) => ({ Failed: [{ Id: entries[0]?.Id, Code: 'x', SenderFault: false }] }));
    const error = await enqueuePatchJobs(sqs, 'q', [job(0), job(1)], {
      attempts: 3,
      sleep: async () => {},
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as Error).message).toContain(job(0).jobId);
    expect((error as Error).message).not.toContain(job(1).jobId);
    expect(sqs.batches).toHaveLength(3);
  });

  it('retries a batch whose send throws, and gives up after the last attempt', async () => {
    const flaky = fakeSqs((_, call) => {
      if (call === 1) throw new Error('socket hang up');
      return {};
    });
    await enqueuePatchJobs(flaky, 'q', [job(0)], { sleep: async () => {} });
    expect(flaky.batches).toHaveLength(2);

    const down = fakeSqs(() => {
      throw new Error('socket hang up');
    });
    await expect(
      enqueuePatchJobs(down, 'q', [job(0)], { attempts: 2, sleep: async () => {} }),
    ).rejects.toBeInstanceOf(DependencyError);
    expect(down.batches).toHaveLength(2);
  });
});

describe('sendDeadLetter', () => {
  it('sends the reason as attributes SQS accepts: never an empty message, the status as a number', async () => {
    const inputs: unknown[] = [];
    const sqs = {
      send: async (command: unknown) => void inputs.push((command as SendMessageCommand).input),
    };
    await sendDeadLetter(
      sqs,
      'dlq',
      { body: '{}', groupId: 'g', deduplicationId: 'd' },
      {
        errorReason: 'rejected',
        errorStatus: 422,
        errorMessage: '',
      },
    );
    expect(inputs[0]).toMatchObject({
      QueueUrl: 'dlq',
      MessageGroupId: 'g',
      MessageDeduplicationId: 'd',
      MessageAttributes: {
        errorReason: { DataType: 'String', StringValue: 'rejected' },
        errorMessage: { DataType: 'String', StringValue: '-' },
        errorStatus: { DataType: 'Number', StringValue: '422' },
      },
    });
  });
});
