import { describe, expect, it } from 'vitest';
import type { CheckpointStore } from '../../../lib/aws/checkpoints.js';
import { createDeadline, DeadlineReachedError } from '../../../lib/backfill/pacing.js';
import { runScope, type ScopeDefinition, type ScopePage } from '../../../lib/backfill/run-scope.js';
import { ConflictError, DependencyError } from '../../../lib/errors.js';
import type { PatchJob } from '../../../lib/jobs/patch-job.js';
import type { MapOutcome } from '../../../lib/sources/outcome.js';

type State = { after: number };

function memoryStore() {
  const items = new Map<string, { state: unknown; revision: number }>();
  const writes: { state: unknown; revision: number }[] = [];
  const store: CheckpointStore = {
    async get<S>(source: string, scope: string) {
      const item = items.get(`${source}/${scope}`);
      return item ? { state: item.state as S, revision: item.revision, updatedAt: 'x' } : undefined;
    },
    async put(source, scope, state, expected) {
      const key = `${source}/${scope}`;
      if ((items.get(key)?.revision ?? undefined) !== expected) throw new ConflictError('lost the race');
      const revision = (expected ?? 0) + 1;
      items.set(key, { state, revision });
      writes.push({ state, revision });
      return revision;
    },
  };
  return { store, writes };
}

const job = (n: number): PatchJob => ({
  version: 1,
  jobId: `test:${n}`,
  source: 'backfill:test',
  match: { email: `p${n}@example.com` },
  patch: { firstName: 'Ada' },
  occurredAt: '2026-11-26T10:00:00Z',
});

const mapRecord = (record: unknown): MapOutcome => {
  const n = record as number;
  return n % 4 === 3
    ? { kind: 'nothing', reason: 'no contact id, email or phone', dropped: [] }
    : { kind: 'job', job: job(n), dropped: [] };
};

function definition(
  pages: ScopePage<State>[],
  fail?: { afterPages: number; error: Error },
): ScopeDefinition<State> {
  return {
    source: 'typeform',
    scope: 'form1',
    checkpointSource: 'backfill:typeform',
    checkpointScope: 'form1',
    window: { until: '2026-11-26T12:00:00Z' },
    stored: undefined,
    map: mapRecord,
    async *pages() {
      let i = 0;
      for (const page of pages) {
        if (fail && i === fail.afterPages) throw fail.error;
        i++;
        yield page;
      }
    },
  };
}

const pagesOf = (count: number, size: number): ScopePage<State>[] =>
  Array.from({ length: count }, (_, p) => ({
    records: Array.from({ length: size }, (_, i) => p * size + i),
    state: { after: (p + 1) * size },
    last: p === count - 1,
  }));

function context(overrides: Partial<Parameters<typeof runScope>[1]> = {}) {
  const { store, writes } = memoryStore();
  const enqueued: PatchJob[] = [];
  const now = () => 0;
  return {
    writes,
    enqueued,
    ctx: {
      store,
      enqueue: async (jobs: readonly PatchJob[]) => {
        enqueued.push(...jobs);
      },
      dryRun: false,
      deadline: createDeadline({ deadlineAt: Number.POSITIVE_INFINITY, now, sleep: async () => {} }),
      now,
      maxRecords: undefined,
      ...overrides,
    },
  };
}

describe('runScope', () => {
  it('enqueues each page, then advances the checkpoint, and counts skips by reason', async () => {
    const { ctx, writes, enqueued } = context();
    const summary = await runScope(definition(pagesOf(3, 4)), ctx);
    expect(summary).toMatchObject({
      pagesRead: 3,
      recordsSeen: 12,
      jobsMapped: 9,
      jobsEnqueued: 9,
      done: true,
    });
    expect(summary.skipped).toEqual({ 'no contact id, email or phone': 3 });
    expect(writes.map((w) => w.state)).toEqual([{ after: 4 }, { after: 8 }, { after: 12 }]);
    expect(enqueued.map((j) => j.jobId)).toHaveLength(9);
    expect(summary.checkpoint).toEqual({ after: 12 });
  });

  it('does not advance the checkpoint past a page whose jobs could not be enqueued', async () => {
    let calls = 0;
    const { ctx, writes } = context({
      enqueue: async () => {
        calls++;
        if (calls === 2) throw new DependencyError('sqs', 'SQS refused jobs after 4 attempts');
      },
    });
    const summary = await runScope(definition(pagesOf(3, 4)), ctx);
    expect(summary).toMatchObject({ done: false, stoppedBy: 'error', pagesRead: 2 });
    expect(summary.error?.code).toBe('dependency-unavailable');
    expect(writes.map((w) => w.state)).toEqual([{ after: 4 }]);
  });

  it('counts the jobs of a page that went out before its enqueue failed', async () => {
    let calls = 0;
    const { ctx } = context({
      enqueue: async (_jobs, onEnqueued) => {
        calls++;
        if (calls === 2) {
          onEnqueued?.(2);
          throw new DependencyError('sqs', 'SQS refused jobs after 4 attempts');
        }
      },
    });
    const summary = await runScope(definition(pagesOf(3, 4)), ctx);
    // Page 1: its 3 jobs; page 2: the 2 that went out before SQS gave up.
    expect(summary).toMatchObject({ stoppedBy: 'error', jobsMapped: 6, jobsEnqueued: 5 });
  });

  it('leaves the checkpoint where it was when the source fails mid-sweep', async () => {
    const { ctx, writes } = context();
    const summary = await runScope(
      definition(pagesOf(3, 4), { afterPages: 1, error: new DependencyError('typeform-api', 'HTTP 500') }),
      ctx,
    );
    expect(summary).toMatchObject({ stoppedBy: 'error', done: false, recordsSeen: 4 });
    expect(writes).toHaveLength(1);
  });

  it('reports a wait that would pass the deadline as a clean stop, not an error', async () => {
    const { ctx } = context();
    const summary = await runScope(
      definition(pagesOf(3, 4), { afterPages: 2, error: new DeadlineReachedError() }),
      ctx,
    );
    expect(summary).toMatchObject({ stoppedBy: 'deadline', done: false, pagesRead: 2 });
    expect(summary.error).toBeUndefined();
  });

  it('does not start a page it cannot finish before the deadline', async () => {
    let t = 0;
    const now = () => t;
    const { ctx, writes } = context({
      now,
      deadline: createDeadline({ deadlineAt: 2_500, now, sleep: async () => {} }),
      enqueue: async () => {
        t += 1_000; // every page cycle takes a second
      },
    });
    const summary = await runScope(definition(pagesOf(5, 4)), ctx);
    expect(summary).toMatchObject({ stoppedBy: 'deadline', done: false, pagesRead: 2 });
    expect(writes).toHaveLength(2);
  });

  it('keeps the run’s longest page cycle (from earlier scopes) in reserve, and reports its own', async () => {
    let t = 0;
    const now = () => t;
    const pageCycle = { longestMs: 5_000 };
    const { ctx } = context({
      now,
      deadline: createDeadline({ deadlineAt: 8_000, now, sleep: async () => {} }),
      enqueue: async () => {
        t += 1_000;
      },
      pageCycle,
    });
    // Each page takes 1 s, but an earlier scope's took 5 s: after the fourth page 4 s are left,
    // less than that, so no fifth page starts (with only its own 1 s cycle it would read eight).
    const summary = await runScope(definition(pagesOf(10, 4)), ctx);
    expect(summary).toMatchObject({ stoppedBy: 'deadline', done: false, pagesRead: 4 });
    expect(t).toBeLessThanOrEqual(8_000);

    const slow = context({
      now,
      deadline: createDeadline({ deadlineAt: Number.POSITIVE_INFINITY, now, sleep: async () => {} }),
      enqueue: async () => {
        t += 7_000;
      },
      pageCycle,
    });
    await runScope(definition(pagesOf(1, 4)), slow.ctx);
    expect(pageCycle.longestMs).toBe(7_000);
  });

  it('stops at maxRecords, and counts a maxRecords stop on the last page as done', async () => {
    const early = context({ maxRecords: 8 });
    expect(await runScope(definition(pagesOf(3, 4)), early.ctx)).toMatchObject({
      stoppedBy: 'maxRecords',
      done: false,
      recordsSeen: 8,
    });
    const exact = context({ maxRecords: 12 });
    const summary = await runScope(definition(pagesOf(3, 4)), exact.ctx);
    expect(summary.done).toBe(true);
    expect(summary.stoppedBy).toBeUndefined();
  });

  it('reads and maps in a dry run without enqueueing or writing, keeping three samples', async () => {
    const { ctx, writes, enqueued } = context({ dryRun: true });
    const summary = await runScope(definition(pagesOf(2, 4)), ctx);
    expect(summary).toMatchObject({ jobsMapped: 6, jobsEnqueued: 0, done: true, checkpoint: null });
    expect(summary.samples?.map((j) => j.jobId)).toEqual(['test:0', 'test:1', 'test:2']);
    expect(writes).toEqual([]);
    expect(enqueued).toEqual([]);
  });

  it('reports a lost checkpoint race as a conflict', async () => {
    const { ctx } = context();
    await ctx.store.put('backfill:typeform', 'form1', { after: 99 }, undefined);
    const summary = await runScope(definition(pagesOf(2, 4)), ctx);
    expect(summary).toMatchObject({ stoppedBy: 'conflict', done: false });
  });

  it('reports progress timed from the scope’s own start, so a later scope’s rate is its own', async () => {
    // The clock stands 10 minutes into the run (an earlier scope took them); each page takes 1 s.
    let t = 600_000;
    const now = () => t;
    const seen: { recordsSeen: number; elapsedMs: number }[] = [];
    const { ctx } = context({
      now,
      enqueue: async () => {
        t += 1_000;
      },
      onProgress: (p) => seen.push({ recordsSeen: p.recordsSeen, elapsedMs: p.elapsedMs }),
    });
    await runScope(definition(pagesOf(2, 4)), ctx);
    expect(seen).toEqual([
      { recordsSeen: 4, elapsedMs: 1_000 },
      { recordsSeen: 8, elapsedMs: 2_000 },
    ]);
  });

  it('lets programming errors through instead of hiding them in the summary', async () => {
    const { ctx } = context();
    await expect(
      runScope(definition(pagesOf(2, 4), { afterPages: 0, error: new TypeError('boom') }), ctx),
    ).rejects.toBeInstanceOf(TypeError);
  });
});
