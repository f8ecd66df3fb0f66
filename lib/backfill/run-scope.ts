import type { CheckpointStore } from '../aws/checkpoints.js';
import { SyncError } from '../errors.js';
import type { PatchJob } from '../jobs/patch-job.js';
import type { MapOutcome } from '../sources/outcome.js';
import { type Deadline, DeadlineReachedError } from './pacing.js';

/** Why a scope stopped before reading its whole window. */
export type StopReason = 'deadline' | 'maxRecords' | 'conflict' | 'error';

/** What one source scope (a Typeform form, a Shopify shop) did in this run. */
export interface ScopeSummary {
  readonly source: 'typeform' | 'shopify';
  /** Form id or shop domain. */
  readonly scope: string;
  /** The window read (ISO; absent = unbounded). */
  readonly window: { readonly since?: string; readonly until?: string };
  pagesRead: number;
  recordsSeen: number;
  /** PatchJobs the mapper made (in a dry run, none of them are enqueued). */
  jobsMapped: number;
  jobsEnqueued: number;
  /** Records that gave no job, counted by the mapper's reason. */
  skipped: Record<string, number>;
  /** The checkpoint state after the run (unchanged in a dry run). */
  checkpoint: unknown;
  /** False when the run stopped early; the next run continues from the checkpoint. */
  done: boolean;
  stoppedBy?: StopReason;
  error?: { readonly code: string; readonly message: string };
  /** A few PatchJobs, in a dry run only (they hold contact data: returned, never logged). */
  samples?: PatchJob[];
}

/** A page as a source driver hands it over: its raw records and the checkpoint after it. */
export interface ScopePage<State> {
  readonly records: readonly unknown[];
  /** The checkpoint to store once this page's jobs are on the queue. */
  readonly state: State;
  /** Records left in the window including this page, when the source says (Typeform). */
  readonly remainingHint?: number;
  /** True on the window's last page. */
  readonly last: boolean;
}

/** Progress after every page, for the command line's progress bar. */
export interface ScopeProgress {
  readonly source: 'typeform' | 'shopify';
  readonly scope: string;
  readonly pagesRead: number;
  readonly recordsSeen: number;
  readonly jobsMapped: number;
  /** Total records expected in this scope, when known. */
  readonly expectedTotal: number | undefined;
  /** Time since this scope started (not the run: a later scope's rate and ETA are its own). */
  readonly elapsedMs: number;
}

/**
 * Puts jobs on the queue; `onEnqueued` hears how many went out as they do, so a failure part way
 * through a page still counts the jobs that did (their page is read again, and SQS or the worker's
 * ledger drops the repeats).
 */
export type EnqueueJobs = (jobs: readonly PatchJob[], onEnqueued?: (count: number) => void) => Promise<void>;

export interface RunScopeContext {
  readonly store: CheckpointStore;
  readonly enqueue: EnqueueJobs;
  readonly dryRun: boolean;
  readonly deadline: Deadline;
  readonly now: () => number;
  /** Records this scope may still read (the request's maxRecords budget). */
  readonly maxRecords: number | undefined;
  /** @default 3 */
  readonly sampleSize?: number;
  readonly onProgress?: (progress: ScopeProgress) => void;
  /**
   * The longest page cycle of the run so far, shared by its scopes (read and updated here): a
   * scope's first page needs the same reserve as its later ones, or a scope started just before
   * the deadline finishes its page after it.
   */
  readonly pageCycle?: { longestMs: number };
}

/** The summary of a scope before its first page: nothing read, checkpoint as stored. */
export function emptyScopeSummary<State>(definition: ScopeDefinition<State>): ScopeSummary {
  return {
    source: definition.source,
    scope: definition.scope,
    window: definition.window,
    pagesRead: 0,
    recordsSeen: 0,
    jobsMapped: 0,
    jobsEnqueued: 0,
    skipped: {},
    checkpoint: definition.stored?.state ?? null,
    done: false,
  };
}

export interface ScopeDefinition<State> {
  readonly source: 'typeform' | 'shopify';
  readonly scope: string;
  /** The checkpoint item (`checkpoint#<source>#<scope>`). */
  readonly checkpointSource: string;
  readonly checkpointScope: string;
  readonly window: { since?: string; until?: string };
  /** The stored checkpoint the plan started from, and its revision (for the conditional write). */
  readonly stored: { state: State; revision: number } | undefined;
  readonly pages: (maxItems: number | undefined) => AsyncIterable<ScopePage<State>>;
  readonly map: (record: unknown) => MapOutcome;
}

/**
 * Reads one scope page by page: map, enqueue, then advance the checkpoint (never before the
 * page's jobs are on the queue, so a crash re-reads rather than loses). Stops cleanly before the
 * deadline (it keeps the longest page cycle seen in reserve) and at the maxRecords budget.
 * Source errors end the scope with `error` in its summary; the checkpoint stays at the last
 * good page.
 */
export async function runScope<State>(
  definition: ScopeDefinition<State>,
  context: RunScopeContext,
): Promise<ScopeSummary> {
  const summary: ScopeSummary = {
    ...emptyScopeSummary(definition),
    ...(context.dryRun ? { samples: [] } : {}),
  };
  const sampleSize = context.sampleSize ?? 3;
  let revision = definition.stored?.revision;
  let expectedTotal: number | undefined;
  let longestCycleMs = context.pageCycle?.longestMs ?? 0;
  const startedAt = context.now();
  let cycleStart = startedAt;
  try {
    for await (const page of definition.pages(context.maxRecords)) {
      summary.pagesRead++;
      summary.recordsSeen += page.records.length;
      if (expectedTotal === undefined && page.remainingHint !== undefined) expectedTotal = page.remainingHint;
      const jobs: PatchJob[] = [];
      for (const record of page.records) {
        const outcome = definition.map(record);
        if (outcome.kind === 'job') jobs.push(outcome.job);
        else summary.skipped[outcome.reason] = (summary.skipped[outcome.reason] ?? 0) + 1;
      }
      summary.jobsMapped += jobs.length;
      if (context.dryRun) {
        summary.samples?.push(...jobs.slice(0, Math.max(0, sampleSize - (summary.samples?.length ?? 0))));
      } else {
        let enqueued = 0;
        try {
          if (jobs.length > 0) await context.enqueue(jobs, (count) => (enqueued += count));
          enqueued = jobs.length;
        } finally {
          summary.jobsEnqueued += enqueued;
        }
        revision = await context.store.put(
          definition.checkpointSource,
          definition.checkpointScope,
          page.state,
          revision,
        );
        summary.checkpoint = page.state;
      }
      context.onProgress?.({
        source: definition.source,
        scope: definition.scope,
        pagesRead: summary.pagesRead,
        recordsSeen: summary.recordsSeen,
        jobsMapped: summary.jobsMapped,
        expectedTotal,
        elapsedMs: context.now() - startedAt,
      });
      const now = context.now();
      longestCycleMs = Math.max(longestCycleMs, now - cycleStart);
      if (context.pageCycle) context.pageCycle.longestMs = longestCycleMs;
      cycleStart = now;
      if (page.last) break;
      if (context.maxRecords !== undefined && summary.recordsSeen >= context.maxRecords) {
        summary.stoppedBy = 'maxRecords';
        return summary;
      }
      // Keep one page cycle in reserve: a page that cannot finish before the deadline is not started.
      if (context.deadline.remainingMs() < longestCycleMs) {
        summary.stoppedBy = 'deadline';
        return summary;
      }
    }
    summary.done = true;
    return summary;
  } catch (error) {
    if (error instanceof DeadlineReachedError) {
      summary.stoppedBy = 'deadline';
      return summary;
    }
    if (!(error instanceof SyncError)) throw error;
    summary.stoppedBy = error.code === 'conflict' ? 'conflict' : 'error';
    summary.error = { code: error.code, message: error.message };
    return summary;
  }
}
