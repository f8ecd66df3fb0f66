import type { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { sendDeadLetter } from '../aws/sqs.js';
import type { StateStore } from '../aws/state-store.js';
import { sha256Hex } from '../hash.js';
import { type Logger, type Metrics, MetricUnit } from '../observability.js';
import { type ApplyDeps, applyPatchJob, type ContactLeaseOptions } from './apply.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import { processFifoBatch, type RecordResult } from './fifo-batch.js';
import { createKeyedLock } from './keyed-lock.js';
import { DROP_REASONS } from './plan-patch.js';

/**
 * The apply-patches worker: one SQS FIFO batch through `applyPatchJob` with the FIFO batch
 * semantics, dead letters to the DLQ, one log line per record and EMF metrics.
 */

export interface PatchWorkerDeps {
  readonly clearTalk: ApplyDeps['clearTalk'];
  readonly state: StateStore;
  readonly links: ApplyDeps['links'];
  readonly policy: ApplyDeps['policy'];
  readonly sqs: Pick<SQSClient, 'send'>;
  readonly deadLetterQueueUrl: string;
  /** Module scope in the handler: it must outlive one invocation. */
  readonly breaker: CircuitBreaker;
  /** WORKER_CONCURRENCY. */
  readonly concurrency: number;
  /** MAX_RECEIVE_COUNT. */
  readonly maxReceiveCount: number;
  readonly logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly metrics?: Pick<Metrics, 'addMetric' | 'publishStoredMetrics' | 'singleMetric'>;
  /** @default Date.now (the clock of `deadlineMs`) */
  readonly now?: () => number;
  /** Waiting for another invocation's contact lease (CONTACT_LEASE_WAIT_MS; clock: `now`). */
  readonly lease?: ContactLeaseOptions;
}

export interface PatchWorker {
  /** Processes one SQS event; `deadlineMs` is when the last request must have ended. */
  processBatch(event: Pick<SQSEvent, 'Records'>, deadlineMs: number): Promise<SQSBatchResponse>;
}

// A job without a contact id or external key is grouped by its email or phone (contactKey in
// fifo-keys.ts), and logs never carry contact values. So the group is logged as is only when it is
// the job's contact id, an external key (`source:…`, no `@`) or contactKey's hash of a long key;
// anything else as a hash, which still tells the lines of one group apart.
const ID_GROUP = /^(?:[^@]*:[^@]*|[0-9a-f]{64})$/;

/** The message group for a log line: `groupId` when it is an id, else `groupHash`. */
function loggableGroup(
  groupId: string | undefined,
  contactId: string | undefined,
): { groupId?: string; groupHash?: string } {
  if (groupId === undefined) return {};
  if (groupId === contactId || ID_GROUP.test(groupId)) return { groupId };
  return { groupHash: sha256Hex(groupId).slice(0, 16) };
}

/** Creates the worker (cold start); `processBatch` per invocation. */
export function createPatchWorker(deps: PatchWorkerDeps): PatchWorker {
  const now = deps.now ?? Date.now;
  const { logger, metrics } = deps;

  const observe = (result: RecordResult, latencyMs: number | undefined) => {
    const { outcome, record } = result;
    const job = outcome?.job ?? {};
    const line = {
      messageId: record.messageId,
      ...loggableGroup(result.groupId, job.contactId),
      receiveCount: Number(record.attributes?.ApproximateReceiveCount ?? 1),
      jobId: job.jobId,
      contactId: job.contactId,
      source: job.source,
      outcome: outcome?.kind ?? 'not-attempted',
      action: result.action,
      ...(result.note ? { note: result.note } : {}),
      ...(outcome && 'sent' in outcome ? { sent: outcome.sent, created: outcome.created } : {}),
      // A contact this job created and left unlinked (a duplicate an operator may remove).
      ...((outcome?.kind === 'applied' || outcome?.kind === 'skipped') &&
      outcome.unlinkedCreated !== undefined
        ? { unlinkedCreated: outcome.unlinkedCreated }
        : {}),
      // Field NAMES and reasons only: values stay out of logs.
      ...(outcome && 'dropped' in outcome && outcome.dropped.length > 0 ? { dropped: outcome.dropped } : {}),
      ...(result.deadLetter ? { deadLetter: result.deadLetter } : {}),
      ...(outcome?.kind === 'retry'
        ? { errorCode: outcome.code, errorStatus: outcome.status, error: outcome.message }
        : {}),
      ...(latencyMs === undefined ? {} : { latencyMs }),
    };
    if (result.action === 'acknowledged') logger?.info('patch job', line);
    else logger?.warn('patch job', line);

    if (!metrics) return;
    if (outcome?.kind === 'applied') metrics.addMetric('jobsApplied', MetricUnit.Count, 1);
    if (outcome?.kind === 'duplicate') metrics.addMetric('jobsDuplicate', MetricUnit.Count, 1);
    if (outcome?.kind === 'skipped') metrics.addMetric('jobsSkipped', MetricUnit.Count, 1);
    if (outcome && 'dropped' in outcome) {
      const stale = outcome.dropped.filter((d) => d.reason === DROP_REASONS.stale).length;
      const noOp = outcome.dropped.filter((d) => d.reason === DROP_REASONS.noOp).length;
      if (stale > 0) metrics.addMetric('fieldsStale', MetricUnit.Count, stale);
      if (noOp > 0) metrics.addMetric('fieldsNoOp', MetricUnit.Count, noOp);
      // A job held back because its person was redacted after the change (lib/aws/links.ts).
      if (outcome.dropped.some((d) => d.reason === DROP_REASONS.redacted))
        metrics.addMetric('jobsRedacted', MetricUnit.Count, 1);
    }
    if (result.action === 'handed-back') metrics.addMetric('jobsHandedBack', MetricUnit.Count, 1);
    if (result.deadLetter) {
      metrics
        .singleMetric()
        .addDimension('reason', result.deadLetter.errorReason)
        .addMetric('jobsDeadLettered', MetricUnit.Count, 1);
    }
    if (latencyMs !== undefined) metrics.addMetric('applyLatency', MetricUnit.Milliseconds, latencyMs);
  };

  return {
    async processBatch(event, deadlineMs) {
      const lock = createKeyedLock();
      const started = new Map<string, number>();
      const applyDeps: ApplyDeps = {
        clearTalk: deps.clearTalk,
        state: deps.state,
        links: deps.links,
        policy: deps.policy,
        deadlineMs,
        // In-process lock first (records of this invocation never contend for a lease), then the
        // cross-invocation lease on the state table.
        lock,
        lease: { ...deps.lease, now: deps.lease?.now ?? now },
      };
      const { batchItemFailures } = await processFifoBatch(event.Records, {
        apply: (record) => {
          started.set(record.messageId, now());
          return applyPatchJob(record.body, applyDeps);
        },
        deadLetter: (record, reason) =>
          sendDeadLetter(
            deps.sqs,
            deps.deadLetterQueueUrl,
            {
              body: record.body,
              groupId: record.attributes?.MessageGroupId ?? 'dead-letters',
              // The messageId, not the jobId: a job redriven from the DLQ and dead-lettered again
              // within SQS's 5-minute deduplication window must not be dropped as a duplicate.
              deduplicationId: record.messageId,
            },
            reason,
          ),
        breaker: deps.breaker,
        concurrency: deps.concurrency,
        maxReceiveCount: deps.maxReceiveCount,
        deadlineMs,
        now,
        onResult: (result) => {
          const start = started.get(result.record.messageId);
          observe(result, start === undefined ? undefined : now() - start);
        },
      });
      if (deps.breaker.state() !== 'closed') {
        logger?.warn('circuit breaker not closed: ClearTalk calls paused', { breaker: deps.breaker.state() });
        metrics?.addMetric('circuitOpen', MetricUnit.Count, 1);
      }
      metrics?.publishStoredMetrics();
      return { batchItemFailures };
    },
  };
}
