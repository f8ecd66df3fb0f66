import { afterEach, describe, expect, it } from 'vitest';
import { runBackfill } from '../../../lib/backfill/run-backfill.js';
import { CHECKPOINT_SOURCES } from '../../../lib/backfill/sources.js';
import type { SweepCheckpoint } from '../../../lib/backfill/sweep.js';
import { parseMappingConfig } from '../../../lib/sources/mapping-config.js';
import { mapShopifyCustomer } from '../../../lib/sources/shopify/mapper.js';
import { ShopifyCustomerSchema } from '../../../lib/sources/shopify/schema.js';
import { type ShopifyStandin, startShopifyApiStandin } from '../../../tools/standins/shopify-api.js';
import { createFakeClock } from '../../helpers/fake-clock.js';
import { buildDeps, createTestSecret, provisionTestStack, queueDepth } from './harness.js';

const START = Date.parse('2026-11-26T12:00:00Z');
const HOUR = 3_600_000;
const SHOP = 'standin-shop.myshopify.com';
const TOKEN = 'shpat_standin_token';
const running: ShopifyStandin[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

async function setup(options: {
  customers: number;
  spacingMs?: number;
  pageSize?: number;
  nodeCost?: number;
  maximumAvailable?: number;
  restoreRate?: number;
}) {
  const clock = createFakeClock(START);
  const standin = await startShopifyApiStandin({
    token: TOKEN,
    shop: SHOP,
    customers: options.customers,
    newestAt: START - HOUR,
    spacingMs: options.spacingMs ?? 60_000,
    ...(options.nodeCost === undefined ? {} : { nodeCost: options.nodeCost }),
    ...(options.maximumAvailable === undefined ? {} : { maximumAvailable: options.maximumAvailable }),
    ...(options.restoreRate === undefined ? {} : { restoreRate: options.restoreRate }),
    now: clock.now,
  });
  running.push(standin);
  const stack = await provisionTestStack();
  const env = {
    ...stack,
    SHOPIFY_SHOP_DOMAIN: SHOP,
    SHOPIFY_ADMIN_BASE_URL: standin.url,
    SHOPIFY_ADMIN_TOKEN_SECRET_ID: await createTestSecret(TOKEN),
    SHOPIFY_API_VERSION: '2025-10',
  };
  const harness = buildDeps({
    env,
    clock,
    ...(options.pageSize ? { pageSizes: { shopify: options.pageSize } } : {}),
  });
  return { clock, standin, stack, ...harness };
}

const customerJobIds = (jobs: readonly { jobId: string }[]) => jobs.map((j) => j.jobId.split(':')[3]);
const ok = (standin: ShopifyStandin) => standin.requests.filter((r) => r.outcome === 'ok');
const variablesOf = (r: { body?: unknown }) => (r.body as { variables: Record<string, unknown> }).variables;

describe('Shopify backfill over HTTP against the stand-in and moto', () => {
  it('pages customers by UPDATED_AT with cursors, shrinking first: 250 to what one query may cost', async () => {
    // 5 points a node: 250 nodes would cost 1252 > 1000, so the reader settles on 199 a page.
    const { standin, deps } = await setup({ customers: 450, nodeCost: 5, spacingMs: 500 });
    const summary = await runBackfill(
      { kind: 'request', request: { source: 'shopify', dryRun: true } },
      deps,
      {
        deadlineAt: Number.POSITIVE_INFINITY,
      },
    );
    expect(summary.sources[0]?.error).toBeUndefined();
    expect(summary.sources[0]).toMatchObject({
      source: 'shopify',
      scope: SHOP,
      recordsSeen: 450,
      jobsMapped: 450,
      done: true,
    });
    expect(standin.requests.map((r) => r.outcome)).toEqual(['max-cost-exceeded', 'ok', 'ok', 'ok']);
    const pages = ok(standin).map(variablesOf);
    expect(pages.map((v) => v.first)).toEqual([199, 199, 199]);
    expect(pages[0]?.after).toBeNull();
    expect(pages[1]?.after).toEqual(expect.any(String));
    expect(pages.every((v) => v.query === "updated_at:<='2026-11-26T12:00:00Z'")).toBe(true);
    expect(standin.requests[0]?.path).toBe('/admin/api/2025-10/graphql.json');
  });

  it('enqueues every customer once and completes the checkpoint', async () => {
    const { standin, deps, enqueued, store, stack } = await setup({ customers: 42, pageSize: 10 });
    const summary = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(summary.sources[0]).toMatchObject({ pagesRead: 5, recordsSeen: 42, jobsEnqueued: 42, done: true });
    expect(customerJobIds(enqueued).sort()).toEqual(standin.customerIds().map(String).sort());
    expect(await queueDepth(stack.PATCH_QUEUE_URL)).toBe(42);
    const checkpoint = await store.get<SweepCheckpoint>(CHECKPOINT_SOURCES.shopify, SHOP);
    expect(checkpoint?.state).toEqual({ completedUntil: '2026-11-26T12:00:00Z' });
  });

  it('paces from throttleStatus so the bucket never runs dry, and waits out an injected THROTTLED', async () => {
    // A small bucket: 10 nodes × 5 + 2 = 52 points a page, 120 points held, 20 restored a second.
    const { standin, deps, clock } = await setup({
      customers: 60,
      pageSize: 10,
      nodeCost: 5,
      maximumAvailable: 120,
      restoreRate: 20,
    });
    standin.inject({ kind: 'throttled', skip: 1 });
    const summary = await runBackfill(
      { kind: 'request', request: { source: 'shopify', dryRun: true } },
      deps,
      {
        deadlineAt: Number.POSITIVE_INFINITY,
      },
    );
    expect(summary.sources[0]).toMatchObject({ recordsSeen: 60, done: true });
    expect(standin.requests.filter((r) => r.outcome === 'throttled')).toHaveLength(1);
    expect(ok(standin)).toHaveLength(6);
    // After the first pages drain the bucket, each page waits for its 52 points (2.6 s at 20/s).
    expect(clock.sleeps.filter((ms) => ms > 0).length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(2_600);
  });

  it('waits out a 429 for its Retry-After seconds', async () => {
    const { standin, deps, clock } = await setup({ customers: 15, pageSize: 10 });
    standin.inject({ kind: 'status', status: 429, retryAfter: '2' });
    const summary = await runBackfill(
      { kind: 'request', request: { source: 'shopify', dryRun: true } },
      deps,
      {
        deadlineAt: Number.POSITIVE_INFINITY,
      },
    );
    expect(summary.sources[0]).toMatchObject({ recordsSeen: 15, done: true });
    expect(clock.sleeps).toContain(2_000);
    expect(standin.requests.map((r) => r.outcome)).toEqual(['fault:429', 'ok', 'ok']);
  });

  it('stops at a malformed page with the checkpoint on the last good page, and resumes from its cursor', async () => {
    const { standin, deps, enqueued, store } = await setup({ customers: 30, pageSize: 10 });
    standin.inject({ kind: 'malformed', skip: 1 });
    const stopped = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(stopped.sources[0]).toMatchObject({
      pagesRead: 1,
      recordsSeen: 10,
      stoppedBy: 'error',
      done: false,
    });
    expect(stopped.sources[0]?.error?.code).toBe('malformed-page');
    const checkpoint = await store.get<SweepCheckpoint>(CHECKPOINT_SOURCES.shopify, SHOP);
    expect(checkpoint?.state.sweep?.cursor).toEqual(expect.any(String));

    const resumed = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(resumed.sources[0]).toMatchObject({ recordsSeen: 20, done: true });
    expect(variablesOf(ok(standin)[1] ?? {}).after).toBe(checkpoint?.state.sweep?.cursor);
    expect(customerJobIds(enqueued).sort()).toEqual(standin.customerIds().map(String).sort());
  });

  it('re-reads only the overlap next time, including a customer updated since', async () => {
    const { standin, deps, enqueued, clock } = await setup({ customers: 20, pageSize: 50 });
    await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(enqueued).toHaveLength(20);
    clock.advance(HOUR);
    standin.updateCustomer(1_003, START + 10 * 60_000);
    const second = await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    expect(variablesOf(standin.requests.at(-1) ?? {}).query).toBe(
      "updated_at:>='2026-11-26T11:30:00Z' AND updated_at:<='2026-11-26T13:00:00Z'",
    );
    expect(second.sources[0]).toMatchObject({ recordsSeen: 1, jobsEnqueued: 1, done: true });
    // The update is a new change, so a new jobId (its new updated_at).
    expect(enqueued.at(-1)?.jobId).toBe(`shopify:${SHOP}:customer:1003:2026-11-26T12:10:00Z`);
  });

  it('gives every customer the jobId and patch its customers/update webhook gives', async () => {
    const { standin, deps, enqueued } = await setup({ customers: 12, pageSize: 5 });
    await runBackfill({ kind: 'schedule' }, deps, { deadlineAt: Number.POSITIVE_INFINITY });
    const config = parseMappingConfig({}, 'test');
    expect(enqueued).toHaveLength(12);
    for (const job of enqueued) {
      const id = Number(job.jobId.split(':')[3]);
      const webhook = ShopifyCustomerSchema.parse(standin.webhookPayload(id));
      const outcome = mapShopifyCustomer(webhook, { shop: SHOP, config, defaultPhoneRegion: 'US' });
      if (outcome.kind !== 'job') throw new Error(`webhook twin of customer ${id} mapped to nothing`);
      expect(outcome.job.jobId).toBe(job.jobId);
      expect(outcome.job.patch).toEqual(job.patch);
      expect(outcome.job.contactId).toBe(job.contactId);
      expect(outcome.job.match).toEqual(job.match);
    }
    expect(enqueued.some((j) => j.contactId !== undefined)).toBe(true);
  });
});
