import type { SQSBatchItemFailure, SQSRecord } from 'aws-lambda';
import type { DeadLetterReason } from '../aws/sqs.js';
import { RETRYABLE_CODES } from '../cleartalk/errors.js';
import { type ApplyOutcome, DEAD_LETTER_REASONS } from './apply.js';
import type { CircuitBreaker } from './circuit-breaker.js';

/**
 * FIFO batch semantics of the worker (issue 4 §1, DESIGN.md step 7): records are grouped by
 * `MessageGroupId` and run in order within a group; groups run side by side up to
 * `concurrency`. The first record of a group that is not done fails, and so does every later
 * record of that group (SQS must redeliver them in order); other groups carry on. Dead letters
 * go to the DLQ with their reason and are then acknowledged; a DLQ that cannot be written makes
 * the record fail instead, so nothing is lost.
 */

/** What happened to one record. */
export interface RecordResult {
  readonly record: SQSRecord;
  readonly groupId: string;
  /** The apply outcome; undefined when the record was not attempted. */
  readonly outcome: ApplyOutcome | undefined;
  /** acknowledged: done (applied, duplicate, skipped); dead-lettered: sent to the DLQ; handed-back: in batchItemFailures. */
  readonly action: 'acknowledged' | 'dead-lettered' | 'handed-back';
  /** Why a record was handed back or dead-lettered without a permanent outcome. */
  readonly note?: 'retry' | 'held-back' | 'circuit-open' | 'deadline' | 'dead-letter-failed' | 'last-receive';
  /** The dead letter's reason, when one was sent. */
  readonly deadLetter?: DeadLetterReason;
}

export interface FifoBatchDeps {
  /** Applies one record's body (lib/jobs/apply.ts). */
  readonly apply: (record: SQSRecord) => Promise<ApplyOutcome>;
  /** Sends the record's original body to the DLQ with the reason attributes. */
  readonly deadLetter: (record: SQSRecord, reason: DeadLetterReason) => Promise<void>;
  readonly breaker: CircuitBreaker;
  /** Message groups processed at the same time (WORKER_CONCURRENCY). */
  readonly concurrency: number;
  /**
   * MAX_RECEIVE_COUNT: a retryable failure on this receive (or later) dead-letters the record
   * itself with `retries-exhausted` (a call the open breaker stopped: only after this receive,
   * like a record not attempted); the redrive (`maxReceiveCount` = this + 1) is the backstop.
   */
  readonly maxReceiveCount: number;
  /** Absolute epoch ms after which no record is started. */
  readonly deadlineMs: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** Told of each record's result as soon as it is known (logs, metrics). */
  readonly onResult?: (result: RecordResult) => void;
}

export interface FifoBatchResult {
  readonly batchItemFailures: SQSBatchItemFailure[];
  readonly results: RecordResult[];
}

/** The message group of a record; a record without one (a standard queue) is its own group. */
export function groupIdOf(record: SQSRecord): string {
  return record.attributes?.MessageGroupId ?? `message:${record.messageId}`;
}

function receiveCountOf(record: SQSRecord): number {
  const count = Number(record.attributes?.ApproximateReceiveCount);
  return Number.isFinite(count) && count > 0 ? count : 1;
}

/** Groups records by message group, keeping the order of records and of first appearance. */
export function groupRecords(
  records: readonly SQSRecord[],
): Array<{ groupId: string; records: SQSRecord[] }> {
  const groups = new Map<string, SQSRecord[]>();
  for (const record of records) {
    const groupId = groupIdOf(record);
    const list = groups.get(groupId);
    if (list) list.push(record);
    else groups.set(groupId, [record]);
  }
  return [...groups].map(([groupId, list]) => ({ groupId, records: list }));
}

/** Processes an SQS FIFO batch; see the module comment. Never throws. */
export async function processFifoBatch(
  records: readonly SQSRecord[],
  deps: FifoBatchDeps,
): Promise<FifoBatchResult> {
  const now = deps.now ?? Date.now;
  const results = new Map<SQSRecord, RecordResult>();
  const finish = (result: RecordResult) => {
    results.set(result.record, result);
    deps.onResult?.(result);
  };

  /** Sends a dead letter; a DLQ failure hands the record back instead (nothing is lost). */
  const deadLetter = async (
    record: SQSRecord,
    groupId: string,
    outcome: ApplyOutcome | undefined,
    reason: DeadLetterReason,
    note?: RecordResult['note'],
  ): Promise<boolean> => {
    try {
      await deps.deadLetter(record, reason);
      finish({
        record,
        groupId,
        outcome,
        action: 'dead-lettered',
        deadLetter: reason,
        ...(note ? { note } : {}),
      });
      return true;
    } catch {
      finish({ record, groupId, outcome, action: 'handed-back', note: 'dead-letter-failed' });
      return false;
    }
  };

  /**
   * A record not attempted (held back, breaker open, no time left). On the redrive's last
   * delivery (receive > MAX_RECEIVE_COUNT) it is dead-lettered with a reason rather than moved
   * by the redrive without one.
   */
  const handBack = async (
    record: SQSRecord,
    groupId: string,
    note: 'held-back' | 'circuit-open' | 'deadline',
  ) => {
    if (receiveCountOf(record) > deps.maxReceiveCount) {
      const message = `not attempted on its last delivery (${note}) after ${receiveCountOf(record)} receives`;
      await deadLetter(
        record,
        groupId,
        undefined,
        { errorReason: DEAD_LETTER_REASONS.retriesExhausted, errorMessage: message },
        'last-receive',
      );
      return;
    }
    finish({ record, groupId, outcome: undefined, action: 'handed-back', note });
  };

  const runGroup = async (groupId: string, group: readonly SQSRecord[]) => {
    let blocked: 'held-back' | undefined;
    for (const record of group) {
      if (blocked) {
        await handBack(record, groupId, blocked);
        continue;
      }
      if (now() >= deps.deadlineMs) {
        await handBack(record, groupId, 'deadline');
        blocked = 'held-back';
        continue;
      }
      if (!deps.breaker.allowRequest()) {
        await handBack(record, groupId, 'circuit-open');
        blocked = 'held-back';
        continue;
      }
      let outcome: ApplyOutcome;
      try {
        outcome = await deps.apply(record);
      } catch (error) {
        // apply never throws by contract; a bug must still not lose the record.
        outcome = {
          kind: 'retry',
          job: {},
          code: 'unexpected',
          message: error instanceof Error ? error.message : String(error),
          error,
          clearTalk: 'not-called',
        };
      }
      // A call the open breaker stopped: the client counted its failed attempts already, and
      // counting it again would reopen a half-open breaker whose trial is another record's.
      const stopped = outcome.kind === 'retry' && outcome.code === RETRYABLE_CODES.circuitOpen;
      if (outcome.clearTalk === 'answered') deps.breaker.recordSuccess();
      // Keyed by the contact (as the client's failed attempts are: circuit-breaker.ts breakerKey).
      else if (outcome.clearTalk === 'failed') {
        if (!stopped) deps.breaker.recordFailure(outcome.job.contactId ?? groupId);
      } else deps.breaker.recordNeutral();

      let done: boolean;
      if (outcome.kind === 'dead-letter') {
        const reason: DeadLetterReason = {
          errorReason: outcome.reason,
          errorMessage: outcome.message,
          ...(outcome.status === undefined ? {} : { errorStatus: outcome.status }),
        };
        done = await deadLetter(record, groupId, outcome, reason);
      } else if (outcome.kind === 'retry') {
        // A record whose retries the open breaker cut short is handed back like one not started:
        // dead-lettered only on the redrive's last delivery.
        if (receiveCountOf(record) >= deps.maxReceiveCount + (stopped ? 1 : 0)) {
          const reason: DeadLetterReason = {
            errorReason: DEAD_LETTER_REASONS.retriesExhausted,
            errorMessage: `${outcome.code}: ${outcome.message}`,
            ...(outcome.status === undefined ? {} : { errorStatus: outcome.status }),
          };
          done = await deadLetter(record, groupId, outcome, reason, 'last-receive');
        } else {
          finish({ record, groupId, outcome, action: 'handed-back', note: 'retry' });
          done = false;
        }
      } else {
        finish({ record, groupId, outcome, action: 'acknowledged' });
        done = true;
      }
      if (!done) blocked = 'held-back';
    }
  };

  const groups = groupRecords(records);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(deps.concurrency, groups.length)) }, async () => {
    for (let index = next++; index < groups.length; index = next++) {
      const group = groups[index];
      if (group) await runGroup(group.groupId, group.records);
    }
  });
  await Promise.all(lanes);

  const ordered = records.flatMap((record) => {
    const result = results.get(record);
    return result ? [result] : [];
  });
  return {
    batchItemFailures: ordered
      .filter((result) => result.action === 'handed-back')
      .map((result) => ({ itemIdentifier: result.record.messageId })),
    results: ordered,
  };
}
