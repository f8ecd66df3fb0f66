/**
 * The checkpoint of one backfill scope and the pure planning of its next sweep.
 *
 * A sweep reads one FIXED window `[since, until]`; `until` is pinned when the sweep starts, so
 * records arriving meanwhile cannot shift pages under the cursor (they belong to the next
 * sweep). While a sweep is under way the checkpoint holds its window and cursor, so a run
 * stopped at the deadline resumes exactly where the last enqueued page ended. When it
 * finishes, `completedUntil = until`, and the next sweep starts `overlapMs` before it: the
 * sources may list a change only some time after it happened (Typeform: responses of the last
 * ~30 minutes may be missing), and re-reading is harmless because jobIds are idempotent.
 */
export interface SweepCheckpoint {
  /** Upper bound (ISO) of the last finished sweep. */
  readonly completedUntil?: string;
  /** The sweep under way: its window and the source cursor after the last enqueued page. */
  readonly sweep?: Sweep;
}

export interface Sweep {
  readonly since?: string;
  readonly until: string;
  /** Opaque source cursor (Typeform `before` token, Shopify `after` cursor). */
  readonly cursor?: string;
}

/** At least the 30 minutes Typeform may lag; shared by both sources for one simple rule. */
export const DEFAULT_OVERLAP_MS = 30 * 60 * 1_000;

/**
 * Decides the sweep to run: the one under way, else a new window from the last finished one
 * minus the overlap (or the request's own bounds) up to now.
 */
export function planSweep(
  stored: SweepCheckpoint | undefined,
  options: { nowMs: number; overlapMs: number; since?: string | undefined; until?: string | undefined },
): Sweep {
  if (stored?.sweep) return stored.sweep;
  const until = options.until ?? toSecond(options.nowMs);
  const since =
    options.since ??
    (stored?.completedUntil === undefined
      ? undefined
      : toSecond(Date.parse(stored.completedUntil) - options.overlapMs));
  return since === undefined ? { until } : { since, until };
}

/** The checkpoint after a page: the finished window, or the sweep with its new cursor. */
export function checkpointAfterPage(
  stored: SweepCheckpoint | undefined,
  sweep: Sweep,
  page: { last: boolean; cursor: string | undefined },
): SweepCheckpoint {
  if (page.last || page.cursor === undefined) return { completedUntil: sweep.until };
  const { cursor: _previous, ...window } = sweep;
  return {
    ...(stored?.completedUntil === undefined ? {} : { completedUntil: stored.completedUntil }),
    sweep: { ...window, cursor: page.cursor },
  };
}

/**
 * The checkpoint scope: the source's own id for scheduled runs; a request with explicit bounds
 * gets a scope of its own, so it can resume without moving the scheduled checkpoint.
 */
export function checkpointScopeFor(
  id: string,
  window: { since?: string | undefined; until?: string | undefined },
) {
  if (window.since === undefined && window.until === undefined) return id;
  return `${id}@${window.since ?? ''}..${window.until ?? ''}`;
}

function toSecond(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
