import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { DeadLetterReason } from '../../../lib/aws/sqs.js';
import type { ApplyOutcome } from '../../../lib/jobs/apply.js';
import { createCircuitBreaker } from '../../../lib/jobs/circuit-breaker.js';
import { type FifoBatchDeps, processFifoBatch } from '../../../lib/jobs/fifo-batch.js';
import { buildSqsRecord } from '../../helpers/sqs-record.js';

const ok: ApplyOutcome = {
  kind: 'applied',
  job: {},
  sent: ['firstName'],
  dropped: [],
  created: false,
  clearTalk: 'answered',
};
const retry503: ApplyOutcome = {
  kind: 'retry',
  job: {},
  code: 'retries-exhausted',
  status: 503,
  message: 'PATCH /contacts/1: ClearTalk answered 503',
  error: new Error('503'),
  clearTalk: 'failed',
};
const notFound: ApplyOutcome = {
  kind: 'dead-letter',
  job: {},
  reason: 'contact-not-found',
  status: 404,
  message: 'PATCH /contacts/1: 404',
  clearTalk: 'answered',
};

/** A call the client stopped retrying because the breaker was open (its attempts were counted). */
const circuitOpen: ApplyOutcome = {
  kind: 'retry',
  job: { contactId: '9' },
  code: 'circuit-open',
  status: 503,
  message: 'PATCH /contacts/9: not retried after 1 attempt(s), the circuit breaker is open',
  error: new Error('circuit-open'),
  clearTalk: 'failed',
};

/** Records whose body names the outcome the fake apply returns: `ok`, `retry`, `dead`. */
function record(groupId: string, body: 'ok' | 'retry' | 'dead', receiveCount = 1): SQSRecord {
  return buildSqsRecord({ groupId, body, receiveCount });
}

function setup(overrides: Partial<FifoBatchDeps> = {}) {
  const applied: string[] = [];
  const deadLetters: Array<{ record: SQSRecord; reason: DeadLetterReason }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const deps: FifoBatchDeps = {
    apply: async (r) => {
      applied.push(r.messageId);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return r.body === 'ok' ? ok : r.body === 'retry' ? retry503 : notFound;
    },
    deadLetter: async (r, reason) => {
      deadLetters.push({ record: r, reason });
    },
    breaker: createCircuitBreaker({ failureThreshold: 3, now: () => 0 }),
    concurrency: 4,
    maxReceiveCount: 5,
    deadlineMs: Number.POSITIVE_INFINITY,
    now: () => 0,
    ...overrides,
  };
  return { deps, applied, deadLetters, maxInFlight: () => maxInFlight };
}

const failures = (result: { batchItemFailures: Array<{ itemIdentifier: string }> }) =>
  result.batchItemFailures.map((f) => f.itemIdentifier);

describe('processFifoBatch', () => {
  it('acknowledges every record that applies', async () => {
    const { deps, applied } = setup();
    const records = [record('a', 'ok'), record('a', 'ok'), record('b', 'ok')];
    const result = await processFifoBatch(records, deps);
    expect(failures(result)).toEqual([]);
    expect(applied).toHaveLength(3);
  });

  it('fails a record and every later record of its group, and carries on with other groups', async () => {
    const { deps, applied } = setup();
    const a1 = record('a', 'ok');
    const a2 = record('a', 'retry');
    const a3 = record('a', 'ok');
    const b1 = record('b', 'ok');
    const b2 = record('b', 'ok');
    const result = await processFifoBatch([a1, b1, a2, b2, a3], deps);

    expect(failures(result)).toEqual([a2.messageId, a3.messageId]);
    expect(applied).not.toContain(a3.messageId);
    expect(applied).toEqual(expect.arrayContaining([a1.messageId, a2.messageId, b1.messageId, b2.messageId]));
    expect(result.results.find((r) => r.record === a3)).toMatchObject({
      action: 'handed-back',
      note: 'held-back',
    });
  });

  it('applies the records of one group in order', async () => {
    const { deps, applied } = setup();
    const records = [record('a', 'ok'), record('b', 'ok'), record('a', 'ok'), record('a', 'ok')];
    await processFifoBatch(records, deps);
    const groupA = records.filter((r) => r.attributes.MessageGroupId === 'a').map((r) => r.messageId);
    expect(applied.filter((id) => groupA.includes(id))).toEqual(groupA);
  });

  it('goes on with the group once a failing record was dead-lettered on its last receive', async () => {
    const { deps, applied } = setup();
    const first = record('a', 'retry', 5);
    const next = record('a', 'ok', 5);
    const result = await processFifoBatch([first, next], deps);
    expect(failures(result)).toEqual([]);
    expect(applied).toContain(next.messageId);
  });

  it('dead-letters a permanent failure with its reason, acknowledges it and goes on with its group', async () => {
    const { deps, deadLetters } = setup();
    const a1 = record('a', 'dead');
    const a2 = record('a', 'ok');
    const result = await processFifoBatch([a1, a2], deps);
    expect(failures(result)).toEqual([]);
    expect(deadLetters).toEqual([
      {
        record: a1,
        reason: {
          errorReason: 'contact-not-found',
          errorStatus: 404,
          errorMessage: 'PATCH /contacts/1: 404',
        },
      },
    ]);
  });

  it('fails the record (and its group) when the dead-letter queue cannot be written', async () => {
    const { deps } = setup({
      deadLetter: async () => {
        throw new Error('SQS down');
      },
    });
    const a1 = record('a', 'dead');
    const a2 = record('a', 'ok');
    const result = await processFifoBatch([a1, a2], deps);
    expect(failures(result)).toEqual([a1.messageId, a2.messageId]);
    expect(result.results[0]).toMatchObject({ action: 'handed-back', note: 'dead-letter-failed' });
  });

  it('dead-letters a retryable failure on the last allowed receive as retries-exhausted, with the last error', async () => {
    const { deps, deadLetters } = setup();
    const last = record('a', 'retry', 5);
    const earlier = record('b', 'retry', 4);
    const result = await processFifoBatch([last, earlier], deps);
    expect(failures(result)).toEqual([earlier.messageId]);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]?.reason).toEqual({
      errorReason: 'retries-exhausted',
      errorStatus: 503,
      errorMessage: 'retries-exhausted: PATCH /contacts/1: ClearTalk answered 503',
    });
  });

  it('dead-letters a held-back record on the redrive’s last delivery instead of letting the redrive move it silently', async () => {
    const { deps, deadLetters } = setup();
    const first = record('a', 'retry', 3);
    const heldBack = record('a', 'ok', 6);
    const result = await processFifoBatch([first, heldBack], deps);
    expect(failures(result)).toEqual([first.messageId]);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]?.record).toBe(heldBack);
    expect(deadLetters[0]?.reason.errorReason).toBe('retries-exhausted');
    expect(deadLetters[0]?.reason.errorMessage).toMatch(/not attempted on its last delivery \(held-back\)/);
  });

  it('runs groups side by side up to the concurrency limit', async () => {
    const { deps, maxInFlight } = setup({ concurrency: 3 });
    const records = Array.from({ length: 10 }, (_, i) => record(`g${i}`, 'ok'));
    await processFifoBatch(records, deps);
    expect(maxInFlight()).toBe(3);
  });

  it('hands the rest of the batch back without calls once the breaker opens', async () => {
    const { deps, applied } = setup({ concurrency: 1 });
    const records = ['a', 'b', 'c', 'd', 'e'].map((g) => record(g, 'retry'));
    const result = await processFifoBatch(records, deps);
    expect(applied).toHaveLength(3);
    expect(failures(result)).toHaveLength(5);
    expect(result.results.slice(3).map((r) => r.note)).toEqual(['circuit-open', 'circuit-open']);
  });

  it('starts nothing once the deadline has passed', async () => {
    const { deps, applied } = setup({ deadlineMs: 100, now: () => 100 });
    const records = [record('a', 'ok'), record('b', 'ok')];
    const result = await processFifoBatch(records, deps);
    expect(applied).toEqual([]);
    expect(failures(result)).toHaveLength(2);
  });

  it('keeps the record when apply throws (a bug), instead of losing it', async () => {
    const { deps } = setup({
      apply: async () => {
        throw new TypeError('bug');
      },
    });
    const r = record('a', 'ok');
    const result = await processFifoBatch([r], deps);
    expect(failures(result)).toEqual([r.messageId]);
  });

  it('hands back a record whose retries the open breaker stopped on its MAX_RECEIVE_COUNT-th receive, like one not started', async () => {
    const { deps, deadLetters } = setup({ apply: async () => circuitOpen });
    const fifth = record('a', 'retry', 5);
    const result = await processFifoBatch([fifth], deps);
    expect(deadLetters).toEqual([]);
    expect(failures(result)).toEqual([fifth.messageId]);
  });

  it('dead-letters a record the open breaker stopped on the redrive’s last delivery', async () => {
    const { deps, deadLetters } = setup({ apply: async () => circuitOpen });
    const sixth = record('a', 'retry', 6);
    const result = await processFifoBatch([sixth], deps);
    expect(failures(result)).toEqual([]);
    expect(deadLetters.map((d) => d.reason.errorReason)).toEqual(['retries-exhausted']);
  });

  it('does not reopen a half-open breaker when a call already in flight comes back circuit-open during the trial', async () => {
    let clock = 0;
    const breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 1_000, now: () => clock });
    let trialStarted!: () => void;
    const started = new Promise<void>((resolve) => {
      trialStarted = resolve;
    });
    let inFlightDone!: () => void;
    const done = new Promise<void>((resolve) => {
      inFlightDone = resolve;
    });
    let stateSeenByTrial: string | undefined;
    const inFlight = record('x', 'retry');
    const trial = record('t', 'ok');
    const { deps } = setup({
      breaker,
      now: () => clock,
      apply: async (r) => {
        if (r === inFlight) {
          // Started while closed; meanwhile an outage opens the breaker and the cooldown passes.
          for (const contact of ['1', '2', '3']) breaker.recordFailure(contact);
          clock += 1_000;
          await started;
          return circuitOpen;
        }
        trialStarted();
        await done;
        stateSeenByTrial = breaker.state();
        return ok;
      },
      onResult: (result) => {
        if (result.record === inFlight) inFlightDone();
      },
    });
    await processFifoBatch([inFlight, trial], deps);
    expect(stateSeenByTrial).toBe('half-open');
    expect(breaker.state()).toBe('closed');
  });
});
