import { describe, expect, it } from 'vitest';
import type { HttpFetch } from '../../../../lib/backfill/http.js';
import { createIntervalPacer, DeadlineReachedError } from '../../../../lib/backfill/pacing.js';
import { ConfigError, DependencyError, ValidationError } from '../../../../lib/errors.js';
import {
  formatTypeformTime,
  readTypeformResponses,
  type TypeformPage,
} from '../../../../lib/sources/typeform/responses-api.js';

type Answer = { status: number; body: string; headers?: Record<string, string> };

function scripted(answers: Answer[]) {
  const calls: { url: URL; headers: Record<string, string> }[] = [];
  const fetch: HttpFetch = async (url, init) => {
    calls.push({ url: new URL(url), headers: init.headers });
    const answer = answers.shift();
    if (!answer) throw new Error('no more scripted answers');
    return {
      status: answer.status,
      headers: { get: (name: string) => answer.headers?.[name.toLowerCase()] ?? null },
      text: async () => answer.body,
    };
  };
  return { fetch, calls };
}

const item = (token: string, at = '2026-11-26T10:00:00Z') => ({
  token,
  response_id: token,
  submitted_at: at,
  answers: [],
});
const page = (tokens: string[], total: number, pageCount: number): Answer => ({
  status: 200,
  body: JSON.stringify({ total_items: total, page_count: pageCount, items: tokens.map((t) => item(t)) }),
});

function options(fetch: HttpFetch, extra: Partial<Parameters<typeof readTypeformResponses>[0]> = {}) {
  let t = 0;
  const sleeps: number[] = [];
  const now = () => t;
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    t += ms;
  };
  const tokens: string[] = [];
  return {
    sleeps,
    tokens,
    options: {
      baseUrl: 'https://api.eu.typeform.com/',
      formId: 'lT4Z3j',
      getToken: async (o?: { forceRefresh?: boolean }) => {
        const token = o?.forceRefresh ? 'rotated' : 'tfp_1';
        tokens.push(token);
        return token;
      },
      fetch,
      pacer: createIntervalPacer({ intervalMs: 500, now, sleep }),
      sleep,
      now,
      random: () => 0.5,
      ...extra,
    },
  };
}

async function collect(pages: AsyncGenerator<TypeformPage>) {
  const out: TypeformPage[] = [];
  for await (const p of pages) out.push(p);
  return out;
}

describe('readTypeformResponses', () => {
  it('asks page_size 1000 within since/until and follows the before cursor to the last page', async () => {
    const { fetch, calls } = scripted([page(['c', 'b'], 3, 2), page(['a'], 1, 1)]);
    const { options: o } = options(fetch, {
      since: '2026-11-26T09:30:00Z',
      until: '2026-11-26T12:00:00.900Z',
      pageSize: 2,
    });
    const pages = await collect(readTypeformResponses(o));
    expect(pages.map((p) => p.items.map((i) => i.token))).toEqual([['c', 'b'], ['a']]);
    expect(pages.map((p) => p.last)).toEqual([false, true]);
    expect(calls[0]?.url.href).toBe(
      'https://api.eu.typeform.com/forms/lT4Z3j/responses?page_size=2&since=2026-11-26T09%3A30%3A00&until=2026-11-26T12%3A00%3A00',
    );
    expect(calls[1]?.url.searchParams.get('before')).toBe('b');
    expect(calls.every((c) => !c.url.searchParams.has('sort') && !c.url.searchParams.has('after'))).toBe(
      true,
    );
    expect(calls[0]?.headers.authorization).toBe('Bearer tfp_1');
  });

  it('defaults to the maximum page size of 1000', async () => {
    const { fetch, calls } = scripted([page([], 0, 1)]);
    await collect(readTypeformResponses(options(fetch).options));
    expect(calls[0]?.url.searchParams.get('page_size')).toBe('1000');
  });

  it('shortens the last page to maxItems', async () => {
    const { fetch, calls } = scripted([page(['c', 'b'], 5, 3), page(['a'], 3, 3)]);
    const pages = await collect(readTypeformResponses(options(fetch, { pageSize: 2, maxItems: 3 }).options));
    expect(pages).toHaveLength(2);
    expect(calls.map((c) => c.url.searchParams.get('page_size'))).toEqual(['2', '1']);
  });

  it('waits out 429 with Retry-After and a 5xx with backoff, then goes on', async () => {
    const { fetch } = scripted([
      { status: 429, body: '{}', headers: { 'retry-after': '3' } },
      { status: 502, body: 'bad gateway' },
      page(['a'], 1, 1),
    ]);
    const o = options(fetch);
    const pages = await collect(readTypeformResponses(o.options));
    expect(pages).toHaveLength(1);
    // Retry-After 3 s, then backoff after the second attempt: jitter 0.5 × 1000 ms (the pacer's
    // 500 ms slot has passed by then, so it adds no wait).
    expect(o.sleeps).toEqual([3_000, 500]);
  });

  it('gives up with a retryable DependencyError after maxAttempts', async () => {
    const { fetch } = scripted(Array.from({ length: 3 }, () => ({ status: 503, body: '' })));
    const error = await collect(readTypeformResponses(options(fetch, { maxAttempts: 3 }).options)).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).retryable).toBe(true);
  });

  it('fetches the token again once after a 401, then reports a refused token as configuration', async () => {
    const { fetch, calls } = scripted([{ status: 401, body: '{}' }, page(['a'], 1, 1)]);
    const o = options(fetch);
    await collect(readTypeformResponses(o.options));
    expect(o.tokens).toEqual(['tfp_1', 'rotated']);
    expect(calls[1]?.headers.authorization).toBe('Bearer rotated');

    const refused = scripted([
      { status: 403, body: '{}' },
      { status: 403, body: '{}' },
    ]);
    await expect(collect(readTypeformResponses(options(refused.fetch).options))).rejects.toBeInstanceOf(
      ConfigError,
    );
  });

  it('names the EU base URL when a form is not found', async () => {
    const { fetch } = scripted([{ status: 404, body: '{}' }]);
    await expect(collect(readTypeformResponses(options(fetch).options))).rejects.toThrow(
      /api\.eu\.typeform\.com/,
    );
  });

  it('rejects a page that is not JSON or lacks tokens as malformed', async () => {
    const truncated = scripted([{ status: 200, body: '{"total_items":3,"items":[{"tok' }]);
    const error = await collect(readTypeformResponses(options(truncated.fetch).options)).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe('malformed-page');

    const noToken = scripted([
      {
        status: 200,
        body: JSON.stringify({ total_items: 1, page_count: 1, items: [{ submitted_at: 'x' }] }),
      },
    ]);
    await expect(collect(readTypeformResponses(options(noToken.fetch).options))).rejects.toMatchObject({
      code: 'malformed-page',
    });
  });

  it('sends no request once the deadline has come', async () => {
    const { fetch, calls } = scripted([page(['a'], 1, 1)]);
    const error = await collect(
      readTypeformResponses(options(fetch, { remainingMs: () => 0 }).options),
    ).catch((e) => e);
    expect(error).toBeInstanceOf(DeadlineReachedError);
    expect(calls).toEqual([]);
  });

  it('spaces its requests through the shared pacer', async () => {
    const { fetch } = scripted([page(['c'], 3, 3), page(['b'], 2, 2), page(['a'], 1, 1)]);
    const o = options(fetch, { pageSize: 1 });
    await collect(readTypeformResponses(o.options));
    expect(o.sleeps).toEqual([500, 500]);
  });
});

describe('formatTypeformTime', () => {
  it('writes UTC to the second without a zone, as the API documents', () => {
    expect(formatTypeformTime('2026-11-26T10:00:00.999-05:00')).toBe('2026-11-26T15:00:00');
  });
});
