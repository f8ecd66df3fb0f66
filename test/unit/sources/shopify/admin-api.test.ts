import { describe, expect, it } from 'vitest';
import type { HttpFetch } from '../../../../lib/backfill/http.js';
import { ConfigError, DependencyError, ValidationError } from '../../../../lib/errors.js';
import {
  buildCustomerSearch,
  readShopifyCustomers,
  type ShopifyPage,
} from '../../../../lib/sources/shopify/admin-api.js';

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

function scripted(answers: Answer[]) {
  const calls: {
    url: string;
    headers: Record<string, string>;
    body: { query: string; variables: Record<string, unknown> };
  }[] = [];
  const fetch: HttpFetch = async (url, init) => {
    calls.push({ url, headers: init.headers, body: JSON.parse(init.body ?? '{}') });
    const answer = answers.shift();
    if (!answer) throw new Error('no more scripted answers');
    return {
      status: answer.status,
      headers: { get: (name: string) => answer.headers?.[name.toLowerCase()] ?? null },
      text: async () => (typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body)),
    };
  };
  return { fetch, calls };
}

const bucket = (available: number, requested = 52) => ({
  cost: {
    requestedQueryCost: requested,
    actualQueryCost: requested,
    throttleStatus: { maximumAvailable: 1_000, currentlyAvailable: available, restoreRate: 50 },
  },
});
const node = (id: number) => ({ id: `gid://shopify/Customer/${id}`, updatedAt: '2026-11-26T10:00:00Z' });
const page = (ids: number[], hasNextPage: boolean, available = 900): Answer => ({
  status: 200,
  body: {
    data: {
      customers: {
        pageInfo: { hasNextPage, endCursor: ids.length ? `c${ids.at(-1)}` : null },
        nodes: ids.map(node),
      },
    },
    extensions: bucket(available),
  },
});
const throttled = (available: number): Answer => ({
  status: 200,
  body: {
    errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED' } }],
    extensions: bucket(available),
  },
});

function options(fetch: HttpFetch, extra: Partial<Parameters<typeof readShopifyCustomers>[0]> = {}) {
  let t = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    options: {
      baseUrl: 'https://shop.myshopify.com',
      apiVersion: '2025-10',
      getToken: async () => 'shpat_1',
      selection: 'id updatedAt',
      fetch,
      sleep: async (ms: number) => {
        sleeps.push(ms);
        t += ms;
      },
      now: () => t,
      random: () => 0.5,
      ...extra,
    },
  };
}

async function collect(pages: AsyncGenerator<ShopifyPage>) {
  const out: ShopifyPage[] = [];
  for await (const p of pages) out.push(p);
  return out;
}

describe('readShopifyCustomers', () => {
  it('posts one customers query sorted by UPDATED_AT and follows endCursor', async () => {
    const { fetch, calls } = scripted([page([1, 2], true), page([3], false)]);
    const pages = await collect(
      readShopifyCustomers(options(fetch, { updatedSince: '2026-11-26T09:30:00Z', pageSize: 2 }).options),
    );
    expect(pages.map((p) => p.nodes.map((n) => n.id))).toEqual([
      ['gid://shopify/Customer/1', 'gid://shopify/Customer/2'],
      ['gid://shopify/Customer/3'],
    ]);
    expect(calls[0]?.url).toBe('https://shop.myshopify.com/admin/api/2025-10/graphql.json');
    expect(calls[0]?.headers['x-shopify-access-token']).toBe('shpat_1');
    expect(calls[0]?.body.query).toMatch(
      /customers\(first: \$first, after: \$after, query: \$query, sortKey: UPDATED_AT\)/,
    );
    expect(calls[0]?.body.variables).toEqual({
      first: 2,
      after: null,
      query: "updated_at:>='2026-11-26T09:30:00Z'",
    });
    expect(calls[1]?.body.variables.after).toBe('c2');
  });

  it('asks first: 250 by default', async () => {
    const { fetch, calls } = scripted([page([], false)]);
    await collect(readShopifyCustomers(options(fetch).options));
    expect(calls[0]?.body.variables.first).toBe(250);
  });

  it('waits for the bucket to hold the next query cost before sending it', async () => {
    // 2 points left, 52 needed, 50 restored a second: 1 s.
    const { fetch } = scripted([page([1], true, 2), page([2], false)]);
    const o = options(fetch);
    await collect(readShopifyCustomers(o.options));
    expect(o.sleeps).toEqual([1_000]);
  });

  it('waits out THROTTLED by the reported bucket and retries the same page', async () => {
    const { fetch, calls } = scripted([throttled(12), page([1], false)]);
    const o = options(fetch);
    const pages = await collect(readShopifyCustomers(o.options));
    expect(pages).toHaveLength(1);
    expect(o.sleeps).toEqual([800]);
    expect(calls[1]?.body.variables).toEqual(calls[0]?.body.variables);
  });

  it('gives up after too many THROTTLED answers', async () => {
    const { fetch } = scripted(Array.from({ length: 4 }, () => throttled(0)));
    const error = await collect(readShopifyCustomers(options(fetch, { maxThrottleWaits: 3 }).options)).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(DependencyError);
  });

  it('waits out an HTTP 429 with Retry-After in seconds', async () => {
    const { fetch } = scripted([
      { status: 429, body: { errors: 'Throttled' }, headers: { 'retry-after': '2.0' } },
      page([1], false),
    ]);
    const o = options(fetch);
    await collect(readShopifyCustomers(o.options));
    expect(o.sleeps).toEqual([2_000]);
  });

  it('shrinks the page when a query would cost more than the single-query maximum', async () => {
    const { fetch, calls } = scripted([
      {
        status: 200,
        body: {
          errors: [
            {
              message: 'Query cost is 1252',
              extensions: { code: 'MAX_COST_EXCEEDED', cost: 1252, maxCost: 1000 },
            },
          ],
          extensions: { cost: { requestedQueryCost: 1252, actualQueryCost: null } },
        },
      },
      page([1], false),
    ]);
    await collect(readShopifyCustomers(options(fetch).options));
    expect(calls.map((c) => c.body.variables.first)).toEqual([250, 199]);
  });

  it('shrinks the page from the error’s own cost when the response carries no cost extensions, and halves it with neither', async () => {
    const refused = (extensions: Record<string, unknown>) => ({
      status: 200,
      body: {
        errors: [
          { message: 'Query cost is too high', extensions: { code: 'MAX_COST_EXCEEDED', ...extensions } },
        ],
      },
    });
    const { fetch, calls } = scripted([refused({ cost: 1252, maxCost: 1000 }), page([1], false)]);
    await collect(readShopifyCustomers(options(fetch).options));
    expect(calls.map((c) => c.body.variables.first)).toEqual([250, 199]);

    const halving = scripted([refused({}), refused({}), page([1], false)]);
    await collect(readShopifyCustomers(options(halving.fetch).options));
    expect(halving.calls.map((c) => c.body.variables.first)).toEqual([250, 125, 62]);
  });

  it('reports a refused token as configuration', async () => {
    const { fetch } = scripted([
      { status: 401, body: { errors: '[API] Invalid API key or access token' } },
      { status: 401, body: { errors: '[API] Invalid API key or access token' } },
    ]);
    await expect(collect(readShopifyCustomers(options(fetch).options))).rejects.toBeInstanceOf(ConfigError);
  });

  it('rejects a malformed page', async () => {
    const { fetch } = scripted([{ status: 200, body: { data: { customers: { nodes: 'oops' } } } }]);
    const error = await collect(readShopifyCustomers(options(fetch).options)).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe('malformed-page');
  });
});

describe('buildCustomerSearch', () => {
  it('writes inclusive UTC bounds joined by AND', () => {
    expect(buildCustomerSearch('2026-11-26T10:00:00-05:00', '2026-11-27T00:00:00.500Z')).toBe(
      "updated_at:>='2026-11-26T15:00:00Z' AND updated_at:<='2026-11-27T00:00:00Z'",
    );
    expect(buildCustomerSearch()).toBe('');
  });
});
