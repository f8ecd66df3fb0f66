import { afterEach, describe, expect, it, vi } from 'vitest';
import type { HttpFetch } from '../../../lib/backfill/http.js';
import { realSleep } from '../../../lib/backfill/pacing.js';
import { runBackfill } from '../../../lib/backfill/run-backfill.js';
import { CHECKPOINT_SOURCES } from '../../../lib/backfill/sources.js';
import type { SweepCheckpoint } from '../../../lib/backfill/sweep.js';
import { parseMappingConfig } from '../../../lib/sources/mapping-config.js';
import { mapTypeformResponse } from '../../../lib/sources/typeform/mapper.js';
import { TypeformWebhookSchema } from '../../../lib/sources/typeform/schema.js';
import { startTypeformApiStandin, type TypeformStandin } from '../../../tools/standins/typeform-api.js';
import { createFakeClock } from '../../helpers/fake-clock.js';
import { buildDeps, createTestSecret, provisionTestStack, queueDepth } from './harness.js';

const START = Date.parse('2026-11-26T12:00:00Z');
const HOUR = 3_600_000;
const FORM = 'lT4Z3j';
const TOKEN = 'tfp_standin_token';
const running: TypeformStandin[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function setup(options: {
  count: number;
  spacingMs?: number;
  pageSize?: number;
  visibilityLagMs?: number;
  mapping?: unknown;
}) {
  const clock = createFakeClock(START);
  const standin = await startTypeformApiStandin({
    token: TOKEN,
    forms: { [FORM]: { count: options.count } },
    newestAt: START - HOUR,
    spacingMs: options.spacingMs ?? 60_000,
    visibilityLagMs: options.visibilityLagMs ?? 0,
    rateLimitPerSecond: 2,
    now: clock.now,
  });
  running.push(standin);
  const stack = await provisionTestStack();
  const secretId = await createTestSecret(TOKEN);
  const env = {
    ...stack,
    TYPEFORM_API_TOKEN_SECRET_ID: secretId,
    TYPEFORM_API_BASE_URL: standin.url,
  };
  const harness = buildDeps({
    env,
    clock,
    mapping: options.mapping ?? { typeform: { forms: { [FORM]: { backfill: true } } } },
    ...(options.pageSize ? { pageSizes: { typeform: options.pageSize } } : {}),
  });
  return { clock, standin, stack, ...harness };
}

/** The backfill's dependencies for two forms, formA and formB, on a stack of their own. */
async function twoFormDeps(
  standin: TypeformStandin,
  clock: ReturnType<typeof createFakeClock>,
  extra: Omit<Parameters<typeof buildDeps>[0], 'env' | 'clock' | 'mapping'> = {},
) {
  const stack = await provisionTestStack();
  return buildDeps({
    env: {
      ...stack,
      TYPEFORM_API_TOKEN_SECRET_ID: await createTestSecret(TOKEN),
      TYPEFORM_API_BASE_URL: standin.url,
    },
    clock,
    mapping: { typeform: { forms: { formA: { backfill: true }, formB: { backfill: true } } } },
    ...extra,
  });
}

const expectedJobIds = (standin: TypeformStandin) => standin.tokens(FORM).map((t) => `typeform:${FORM}:${t}`);

describe('Typeform backfill over HTTP against the stand-in and moto', () => {
  it('pages with page_size 1000 and the before cursor inside one fixed window', async () => {
    // A dry run: moto slows down badly as a queue fills, and the enqueue path is covered below.
    const { standin, deps } = await setup({ count: 2_150, spacingMs: 400 });
    const summary = await runBackfill(
      { kind: 'request', request: { source: 'typeform', dryRun: true } },
      deps,
      {
        deadlineAt: Number.POSITIVE_INFINITY,
      },
    );
    expect(summary.sources[0]).toMatchObject({
      pagesRead: 3,
      recordsSeen: 2_150,
      jobsMapped: 2_150,
      done: true,
    });
    const pages = standin.requests.filter((r) => r.outcome === 'ok');
    expect(pages.map((r) => r.query.page_size)).toEqual(['1000', '1000', '1000']);
    expect(pages.map((r) => r.query.before)).toEqual([
      undefined,
      standin.tokens(FORM)[1_150],
      standin.tokens(FORM)[150],
    ]);
    expect(pages.every((r) => r.query.until === '2026-11-26T12:00:00' && r.query.since === undefined)).toBe(
      true,
    );
  });

  it('enqueues every response of a multi-page window exactly once, then marks the sweep complete', async () => {
    // 400 ms apart: several responses share a second, which a timestamp cursor would split.
    const { standin, deps, enqueued, store, stack } = await setup({
      count: 35,
      pageSize: 10,
      spacingMs: 400,
    });
    const summary = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(summary.done).toBe(true);
    expect(summary.sources[0]).toMatchObject({
      source: 'typeform',
      scope: FORM,
      pagesRead: 4,
      recordsSeen: 35,
      jobsEnqueued: 35,
    });
    expect(enqueued.map((j) => j.jobId).sort()).toEqual(expectedJobIds(standin).sort());
    expect(await queueDepth(stack.PATCH_QUEUE_URL)).toBe(35);
    const checkpoint = await store.get<SweepCheckpoint>(CHECKPOINT_SOURCES.typeform, FORM);
    expect(checkpoint).toMatchObject({ revision: 4, state: { completedUntil: '2026-11-26T12:00:00Z' } });
  });

  it('keeps to 2 requests per second per account across forms (the stand-in enforces it)', async () => {
    const clock = createFakeClock(START);
    const standin = await startTypeformApiStandin({
      token: TOKEN,
      forms: { formA: { count: 30 }, formB: { count: 30 } },
      newestAt: START - HOUR,
      rateLimitPerSecond: 2,
      now: clock.now,
    });
    running.push(standin);
    const { deps } = await twoFormDeps(standin, clock, { pageSizes: { typeform: 10 } });
    const summary = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(summary.sources.map((s) => s.recordsSeen)).toEqual([30, 30]);
    const times = standin.requests.map((r) => r.at);
    expect(standin.requests.filter((r) => r.outcome === 'rate-limited')).toEqual([]);
    expect(times.length).toBe(6);
    for (let i = 1; i < times.length; i++)
      expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBeGreaterThanOrEqual(500);
  });

  it('gives two containers back-filling one account at once one request schedule', async () => {
    // Real time: two runs in parallel, each with its own module state (its own in-container
    // pacer), as a scheduled run and a direct invoke in two Lambda containers would be.
    const clock = { now: Date.now, sleep: realSleep, advance: () => {}, sleeps: [] };
    const standin = await startTypeformApiStandin({
      token: TOKEN,
      forms: { formA: { count: 20 }, formB: { count: 20 } },
      newestAt: Date.now() - HOUR,
      rateLimitPerSecond: 2,
      now: Date.now,
    });
    running.push(standin);
    const stack = await provisionTestStack();
    const env = {
      ...stack,
      TYPEFORM_API_TOKEN_SECRET_ID: await createTestSecret(TOKEN),
      TYPEFORM_API_BASE_URL: standin.url,
    };
    // When each request is handed to fetch, i.e. right after a pacer let it go.
    const sent: number[] = [];
    const watched: HttpFetch = (url, init) => {
      sent.push(Date.now());
      return fetch(url, init);
    };
    vi.resetModules();
    const secondContainer = await import('../../../lib/backfill/create-backfill.js');
    const page = { typeform: 10 };
    const runs = [
      buildDeps({
        env,
        clock,
        fetch: watched,
        pageSizes: page,
        mapping: { typeform: { forms: { formA: { backfill: true } } } },
      }),
      buildDeps({
        env,
        clock,
        fetch: watched,
        pageSizes: page,
        mapping: { typeform: { forms: { formB: { backfill: true } } } },
        createDeps: secondContainer.createBackfillDeps,
      }),
    ];
    expect(runs[0]?.deps.typeform?.pacer).not.toBe(runs[1]?.deps.typeform?.pacer);
    const summaries = await Promise.all(
      runs.map(({ deps }) =>
        runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY }),
      ),
    );
    expect(summaries.map((summary) => summary.sources[0]?.recordsSeen)).toEqual([20, 20]);
    expect(sent.length).toBeGreaterThanOrEqual(4);
    // One schedule: any three requests of the two containers span at least two intervals (1,200 ms;
    // 1,000 allows for event-loop lag in this one process). Two schedules would send side by side.
    for (let i = 2; i < sent.length; i++)
      expect((sent[i] ?? 0) - (sent[i - 2] ?? 0)).toBeGreaterThanOrEqual(1_000);
  });

  it('reads an EU account from TYPEFORM_API_BASE_URL; the US base answers the same form with nothing', async () => {
    const clock = createFakeClock(START);
    const eu = await startTypeformApiStandin({
      token: TOKEN,
      forms: { [FORM]: { count: 12 } },
      newestAt: START - HOUR,
      now: clock.now,
      region: 'eu',
    });
    const us = await startTypeformApiStandin({ token: TOKEN, forms: {}, emptyForms: [FORM], now: clock.now });
    running.push(eu, us);
    const stack = await provisionTestStack();
    const secretId = await createTestSecret(TOKEN);
    const mapping = { typeform: { forms: { [FORM]: { backfill: true } } } };
    const atEu = buildDeps({
      env: { ...stack, TYPEFORM_API_TOKEN_SECRET_ID: secretId, TYPEFORM_API_BASE_URL: eu.url },
      clock,
      mapping,
    });
    const summary = await runBackfill(
      { kind: 'request', request: { source: 'typeform', dryRun: true } },
      atEu.deps,
      {
        deadlineAt: Number.POSITIVE_INFINITY,
      },
    );
    expect(summary.sources[0]).toMatchObject({ recordsSeen: 12, jobsMapped: 12, done: true });
    expect(eu.requests.length).toBe(1);
    expect(us.requests.length).toBe(0);

    const atUs = buildDeps({
      env: { ...stack, TYPEFORM_API_TOKEN_SECRET_ID: secretId, TYPEFORM_API_BASE_URL: us.url },
      clock,
      mapping,
    });
    const wrongRegion = await runBackfill(
      { kind: 'request', request: { source: 'typeform', dryRun: true } },
      atUs.deps,
      {
        deadlineAt: Number.POSITIVE_INFINITY,
      },
    );
    expect(wrongRegion.sources[0]).toMatchObject({ recordsSeen: 0, done: true });
  });

  it('waits out a 429 for its Retry-After seconds and loses nothing', async () => {
    const { standin, deps, enqueued, clock } = await setup({ count: 25, pageSize: 10 });
    standin.inject({ kind: 'status', status: 429, retryAfter: '7' });
    standin.inject({ kind: 'status', status: 503 });
    const summary = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(summary.sources[0]).toMatchObject({ recordsSeen: 25, done: true });
    expect(clock.sleeps).toContain(7_000);
    expect(standin.requests.map((r) => r.outcome)).toEqual(['fault:429', 'fault:503', 'ok', 'ok', 'ok']);
    expect(enqueued.map((j) => j.jobId).sort()).toEqual(expectedJobIds(standin).sort());
  });

  it('stops at a malformed page without advancing the checkpoint, and the next run loses nothing', async () => {
    const { standin, deps, enqueued, store } = await setup({ count: 30, pageSize: 10 });
    standin.inject({ kind: 'malformed', skip: 1 });
    const stopped = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    const [form] = stopped.sources;
    expect(stopped.done).toBe(false);
    expect(form).toMatchObject({
      pagesRead: 1,
      recordsSeen: 10,
      jobsEnqueued: 10,
      done: false,
      stoppedBy: 'error',
    });
    expect(form?.error?.code).toBe('malformed-page');
    const afterFailure = await store.get<SweepCheckpoint>(CHECKPOINT_SOURCES.typeform, FORM);
    // Advanced once, for the good page: its cursor is the last token that page enqueued.
    expect(afterFailure?.revision).toBe(1);
    expect(afterFailure?.state.sweep?.cursor).toBe(enqueued.at(-1)?.jobId.split(':')[2]);

    const resumed = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(resumed.sources[0]).toMatchObject({ recordsSeen: 20, done: true });
    expect(enqueued.map((j) => j.jobId).sort()).toEqual(expectedJobIds(standin).sort());
  });

  it('stops cleanly before the deadline and resumes from the checkpoint: nothing skipped, nothing re-keyed', async () => {
    const { standin, deps, enqueued, clock } = await setup({ count: 75, pageSize: 10, spacingMs: 300 });
    const runs = [];
    for (let i = 0; i < 20; i++) {
      // Each run gets 1.1 s of (fake) time: at 2 requests/s that is three pages.
      const summary = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: clock.now() + 1_100 });
      runs.push(summary);
      if (summary.done) break;
      clock.advance(60_000);
    }
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.slice(0, -1).every((r) => !r.done && r.sources[0]?.stoppedBy === 'deadline')).toBe(true);
    expect(runs.at(-1)?.done).toBe(true);
    const ids = enqueued.map((j) => j.jobId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(expectedJobIds(standin).sort());
    // Every resumed run kept the first run's window.
    const windows = new Set(standin.requests.map((r) => `${r.query.since}..${r.query.until}`));
    expect(windows).toEqual(new Set(['undefined..2026-11-26T12:00:00']));
  });

  it('does not start the next form when less time is left than the run’s longest page cycle', async () => {
    const clock = createFakeClock(START);
    const standin = await startTypeformApiStandin({
      token: TOKEN,
      forms: { formA: { count: 5 }, formB: { count: 5 } },
      newestAt: START - HOUR,
      now: clock.now,
    });
    running.push(standin);
    const { deps, store } = await twoFormDeps(standin, clock, {
      // Putting a page's jobs on the queue takes 10 s (a full page is 100 SendMessageBatch calls).
      onEnqueue: () => clock.advance(10_000),
    });
    const deadlineAt = START + 15_000;
    const summary = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt });
    // formA's one page took 10 s; 5 s are left, so formB's page (which would end 5 s past the
    // deadline, when Lambda may already have stopped the function) is not started.
    expect(summary.sources.map((s) => [s.scope, s.pagesRead, s.done, s.stoppedBy])).toEqual([
      ['formA', 1, true, undefined],
      ['formB', 0, false, 'deadline'],
    ]);
    expect(clock.now()).toBeLessThanOrEqual(deadlineAt);
    expect(await store.get(CHECKPOINT_SOURCES.typeform, 'formB')).toBeUndefined();
  });

  it('re-reads only the 30-minute overlap on the next run, which catches a response the API listed late', async () => {
    const { standin, deps, enqueued, clock } = await setup({
      count: 40,
      pageSize: 100,
      visibilityLagMs: 20 * 60_000,
    });
    // Submitted 10 minutes before the first run, listed 10 minutes after it.
    const late = standin.addResponse(FORM, START - 10 * 60_000, START + 10 * 60_000);
    const first = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(first.sources[0]).toMatchObject({ recordsSeen: 40, done: true });
    expect(enqueued.map((j) => j.jobId)).not.toContain(`typeform:${FORM}:${late}`);

    clock.advance(2 * HOUR);
    const fresh = standin.addResponse(FORM, START + HOUR);
    const second = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    const request = standin.requests.at(-1);
    expect(request?.query.since).toBe('2026-11-26T11:30:00');
    expect(request?.query.until).toBe('2026-11-26T14:00:00');
    // Only the overlap and what came after: the late one and the fresh one, not the 40 old ones.
    expect(second.sources[0]).toMatchObject({ recordsSeen: 2, jobsEnqueued: 2, done: true });
    expect(
      enqueued
        .slice(40)
        .map((j) => j.jobId)
        .sort(),
    ).toEqual([`typeform:${FORM}:${late}`, `typeform:${FORM}:${fresh}`].sort());
  });

  it('reads and maps in a dry run but enqueues nothing and leaves the checkpoint alone', async () => {
    const { deps, enqueued, store, stack } = await setup({ count: 25, pageSize: 10 });
    const summary = await runBackfill(
      { kind: 'request', request: { source: 'typeform', formIds: [FORM], dryRun: true } },
      deps,
      { deadlineAt: Number.POSITIVE_INFINITY },
    );
    expect(summary.dryRun).toBe(true);
    expect(summary.sources[0]).toMatchObject({
      recordsSeen: 25,
      jobsMapped: 25,
      jobsEnqueued: 0,
      done: true,
    });
    expect(summary.sources[0]?.samples).toHaveLength(3);
    expect(summary.sources[0]?.samples?.[0]?.source).toBe('backfill:typeform');
    expect(enqueued).toEqual([]);
    expect(await queueDepth(stack.PATCH_QUEUE_URL)).toBe(0);
    expect(await store.get(CHECKPOINT_SOURCES.typeform, FORM)).toBeUndefined();
  });

  it('honours maxRecords exactly and reports done: false', async () => {
    const { deps, enqueued, standin } = await setup({ count: 50, pageSize: 20 });
    const summary = await runBackfill(
      { kind: 'request', request: { source: 'typeform', formIds: [FORM], maxRecords: 25, dryRun: false } },
      deps,
      { deadlineAt: Number.POSITIVE_INFINITY },
    );
    expect(summary.sources[0]).toMatchObject({ recordsSeen: 25, stoppedBy: 'maxRecords', done: false });
    expect(enqueued).toHaveLength(25);
    expect(standin.requests.map((r) => r.query.page_size)).toEqual(['20', '5']);
  });

  it('reads a form named twice in one request once, without racing itself for the checkpoint', async () => {
    const { standin, deps, enqueued, store } = await setup({ count: 12, pageSize: 5 });
    const summary = await runBackfill(
      { kind: 'request', request: { source: 'typeform', formIds: [FORM, FORM], dryRun: false } },
      deps,
      { deadlineAt: Number.POSITIVE_INFINITY },
    );
    expect(summary.done).toBe(true);
    expect(summary.sources.map((s) => [s.scope, s.recordsSeen, s.stoppedBy])).toEqual([
      [FORM, 12, undefined],
    ]);
    expect(enqueued.map((j) => j.jobId).sort()).toEqual(expectedJobIds(standin).sort());
    expect(await store.get(CHECKPOINT_SOURCES.typeform, FORM)).toMatchObject({
      revision: 3,
      state: { completedUntil: '2026-11-26T12:00:00Z' },
    });
  });

  it('lets the slower of two overlapping runs fail on the conditional checkpoint instead of overwriting it', async () => {
    const { deps, store } = await setup({ count: 30, pageSize: 10 });
    let raced = false;
    const racing = {
      ...deps,
      enqueue: async (jobs: Parameters<typeof deps.enqueue>[0]) => {
        await deps.enqueue(jobs);
        if (!raced) {
          raced = true;
          // Another run advances the checkpoint between our read and our first write.
          await store.put(CHECKPOINT_SOURCES.typeform, FORM, { completedUntil: 'other-run' }, undefined);
        }
      },
    };
    const summary = await runBackfill({ kind: 'schedule' }, racing, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(summary.sources[0]).toMatchObject({ stoppedBy: 'conflict', done: false, pagesRead: 1 });
    expect(summary.sources[0]?.error?.code).toBe('conflict');
    const stored = await store.get<SweepCheckpoint>(CHECKPOINT_SOURCES.typeform, FORM);
    expect(stored).toMatchObject({ revision: 1, state: { completedUntil: 'other-run' } });
  });

  it('gives every response the jobId and patch its webhook gives', async () => {
    const { standin, deps, enqueued } = await setup({ count: 12, pageSize: 5 });
    await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    const config = parseMappingConfig({ typeform: { forms: { [FORM]: { backfill: true } } } }, 'test');
    expect(enqueued).toHaveLength(12);
    for (const job of enqueued) {
      const token = job.jobId.split(':')[2] ?? '';
      const webhook = TypeformWebhookSchema.parse(standin.webhookPayload(FORM, token));
      const outcome = mapTypeformResponse(webhook.form_response, { config, defaultPhoneRegion: 'US' });
      if (outcome.kind !== 'job') throw new Error(`webhook twin of ${token} mapped to nothing`);
      expect(outcome.job.jobId).toBe(job.jobId);
      expect(outcome.job.patch).toEqual(job.patch);
      expect(outcome.job.occurredAt).toBe(job.occurredAt);
      expect(outcome.job.source).toBe('typeform');
      expect(job.source).toBe('backfill:typeform');
    }
  });
});
