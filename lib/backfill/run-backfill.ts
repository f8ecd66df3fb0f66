import type { CheckpointStore } from '../aws/checkpoints.js';
import { ConfigError, SyncError, ValidationError } from '../errors.js';
import { backfillFormIds, typeformFormSettings } from '../sources/mapping-config.js';
import { type Clock, createDeadline, type Sleep } from './pacing.js';
import type { BackfillInvocation } from './request.js';
import {
  type EnqueueJobs,
  emptyScopeSummary,
  runScope,
  type ScopeDefinition,
  type ScopeProgress,
  type ScopeSummary,
} from './run-scope.js';
import {
  defineShopifyScope,
  defineTypeformScope,
  type MappingContext,
  type ShopifyAccess,
  type TimingDeps,
  type TypeformAccess,
} from './sources.js';
import { DEFAULT_OVERLAP_MS, type SweepCheckpoint } from './sweep.js';

/** Everything a backfill run talks to, injected (production wiring: `createBackfillDeps`). */
export interface BackfillDeps {
  readonly mapping: MappingContext;
  readonly store: CheckpointStore;
  /** Puts a page's jobs on the queue (SendMessageBatch, 10 per call, failures retried). */
  readonly enqueue: EnqueueJobs;
  /** Absent when no Typeform token is configured. */
  readonly typeform?: TypeformAccess | undefined;
  /** Absent when the shop domain or its token is not configured. */
  readonly shopify?: ShopifyAccess | undefined;
  readonly fetch: TimingDeps['fetch'];
  readonly sleep: Sleep;
  readonly now: Clock;
  readonly random: () => number;
  /** @default DEFAULT_OVERLAP_MS (30 minutes) */
  readonly overlapMs?: number;
  readonly onProgress?: (progress: ScopeProgress) => void;
}

/** What a run did, per source scope. */
export interface BackfillSummary {
  readonly trigger: 'schedule' | 'request';
  readonly dryRun: boolean;
  /** False when any scope stopped early: the next run continues from its checkpoint. */
  readonly done: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly sources: ScopeSummary[];
}

type Definition = ScopeDefinition<SweepCheckpoint> & { readonly updatedAt: string | undefined };

/**
 * Runs a backfill: on the schedule every configured source from its checkpoint, or what one
 * request asks. Scopes run one after another, the one whose checkpoint moved longest ago first,
 * so a scope that keeps hitting the deadline cannot starve the others.
 * @throws {ConfigError} when a request names a source that is not configured
 * @throws {ValidationError} when a Typeform request has no forms to read
 */
export async function runBackfill(
  invocation: BackfillInvocation,
  deps: BackfillDeps,
  options: { deadlineAt: number },
): Promise<BackfillSummary> {
  const startedAt = new Date(deps.now()).toISOString();
  const deadline = createDeadline({ deadlineAt: options.deadlineAt, now: deps.now, sleep: deps.sleep });
  const timing: TimingDeps = {
    fetch: deps.fetch,
    sleep: deadline.sleep,
    now: deps.now,
    random: deps.random,
    remainingMs: deadline.remainingMs,
  };
  const request = invocation.kind === 'request' ? invocation.request : undefined;
  const dryRun = request?.dryRun ?? false;
  const window = { since: request?.since, until: request?.until };
  const overlapMs = deps.overlapMs ?? DEFAULT_OVERLAP_MS;
  const definitions: Definition[] = [];
  // What every source's scope is planned from.
  const scopeArgs = { window, store: deps.store, timing, mapping: deps.mapping, overlapMs };

  const wantTypeform = request === undefined || request.source === 'typeform';
  const wantShopify = request === undefined || request.source === 'shopify';
  if (wantTypeform) {
    const access = deps.typeform;
    if (request && !access)
      throw new ConfigError(['TYPEFORM_API_TOKEN_SECRET_ID: required for a Typeform backfill']);
    // A form named twice would be planned twice from one checkpoint read: the second copy would
    // re-read a page and then lose the checkpoint race against the first (`conflict`, done: false).
    const formIds = [...new Set(request?.formIds ?? backfillFormIds(deps.mapping.config))];
    if (request && formIds.length === 0) {
      throw new ValidationError(
        'No Typeform forms to back fill: pass "formIds", or set "backfill": true on forms in the mapping configuration',
        { code: 'invalid-request' },
      );
    }
    for (const formId of formIds) {
      if (!access || typeformFormSettings(deps.mapping.config, formId).ignored) continue;
      definitions.push(await defineTypeformScope({ ...scopeArgs, formId, access }));
    }
  }
  if (wantShopify) {
    const access = deps.shopify;
    if (request && !access) {
      throw new ConfigError([
        'SHOPIFY_SHOP_DOMAIN and SHOPIFY_ADMIN_TOKEN_SECRET_ID: required for a Shopify backfill',
      ]);
    }
    if (access) {
      definitions.push(await defineShopifyScope({ ...scopeArgs, access }));
    }
  }

  // Never-run scopes first, then the least recently advanced.
  definitions.sort((a, b) => (a.updatedAt ?? '').localeCompare(b.updatedAt ?? ''));
  const sources: ScopeSummary[] = [];
  let budget = request?.maxRecords;
  // The longest page cycle of any scope so far: the next scope's first page needs it in reserve too.
  const pageCycle = { longestMs: 0 };
  for (const definition of definitions) {
    if (budget !== undefined && budget <= 0) {
      sources.push(notStarted(definition, 'maxRecords'));
      continue;
    }
    const remainingMs = deadline.remainingMs();
    if (
      remainingMs <= 0 ||
      remainingMs < pageCycle.longestMs ||
      sources.some((s) => s.stoppedBy === 'deadline')
    ) {
      sources.push(notStarted(definition, 'deadline'));
      continue;
    }
    const summary = await runScope(definition, {
      store: deps.store,
      enqueue: deps.enqueue,
      dryRun,
      deadline,
      now: deps.now,
      maxRecords: budget,
      pageCycle,
      ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
    });
    if (budget !== undefined) budget -= summary.recordsSeen;
    sources.push(summary);
  }
  return {
    trigger: invocation.kind,
    dryRun,
    done: sources.every((s) => s.done),
    startedAt,
    finishedAt: new Date(deps.now()).toISOString(),
    sources,
  };
}

function notStarted(definition: Definition, stoppedBy: 'deadline' | 'maxRecords'): ScopeSummary {
  return { ...emptyScopeSummary(definition), stoppedBy };
}

/**
 * A run in which some scope stopped on an error (a refused token, a form that does not exist, a
 * source that kept failing): not a deadline, a record cap or another run holding the checkpoint,
 * which the next run simply continues. The handler throws it so Lambda counts the invocation as an
 * error and the backfill-errors alarm fires; the summary is logged first.
 */
export class BackfillFailedError extends SyncError {
  override name = 'BackfillFailedError';
  /** `<source> <scope> (<error code>)` per failed scope: ids and codes, never contact values. */
  readonly failed: readonly string[];

  constructor(failed: readonly string[]) {
    super(`backfill stopped with errors: ${failed.join(', ')} (the summary is logged)`, {
      code: 'backfill-failed',
      retryable: true,
    });
    this.failed = failed;
  }
}

/** The error of a run in which some scope stopped on an error; undefined when none did. */
export function backfillFailure(summary: BackfillSummary): BackfillFailedError | undefined {
  const failed = summary.sources
    .filter((s) => s.stoppedBy === 'error')
    .map((s) => `${s.source} ${s.scope} (${s.error?.code ?? 'error'})`);
  return failed.length > 0 ? new BackfillFailedError(failed) : undefined;
}

/** The summary without dry-run samples (contact data) and checkpoint cursors: safe to log. */
export function summaryForLog(summary: BackfillSummary) {
  return {
    trigger: summary.trigger,
    dryRun: summary.dryRun,
    done: summary.done,
    sources: summary.sources.map(({ samples: _samples, checkpoint: _checkpoint, ...rest }) => rest),
  };
}
