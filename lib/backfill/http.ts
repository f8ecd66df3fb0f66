import { DependencyError } from '../errors.js';
import {
  backoffDelayMs,
  type Clock,
  DeadlineReachedError,
  type Pacer,
  parseRetryAfterMs,
  type Sleep,
} from './pacing.js';

/** The slice of a `fetch` Response the readers use (global `fetch` satisfies it). */
export interface HttpResponse {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** A `fetch`-like function, injected so readers can be tested deterministically. */
export type HttpFetch = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
) => Promise<HttpResponse>;

export interface HttpRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export interface RetryOptions {
  readonly fetch: HttpFetch;
  /** Deadline-aware sleep: it throws rather than wait past the run's deadline. */
  readonly sleep: Sleep;
  readonly now: Clock;
  readonly random: () => number;
  /** Spaces requests to the source's rate limit; acquired before every attempt. */
  readonly pacer?: Pacer;
  /** @default 8 */
  readonly maxAttempts?: number;
  /** Per-attempt timeout. @default 30_000 */
  readonly timeoutMs?: number;
  /** Time left before the run's deadline: an attempt never outlives it. */
  readonly remainingMs?: () => number;
  /** Names the dependency in errors (`typeform-api`, `shopify-admin-api`). */
  readonly dependency: string;
}

/** A finished exchange: the status and the body text (read once). */
export interface HttpResult {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  readonly text: string;
}

// Every 5xx, not only 500/502-504: Shopify documents 530 and 540, and a CDN in front of either
// API answers 520-524 for a moment; the issue and docs/backfill.md promise 5xx is waited out.
const isRetryableStatus = (status: number) =>
  status === 408 || status === 425 || status === 429 || (status >= 500 && status <= 599);

/**
 * Sends a request, waiting out network errors, timeouts, 408, 429 and 5xx: `Retry-After` when
 * the server sends one (seconds or an HTTP date), else capped exponential backoff with full
 * jitter. Other statuses are returned to the caller to interpret.
 * @throws {DependencyError} when every attempt failed (retryable: a later run may succeed)
 * @throws {DeadlineReachedError} when a wait (from `sleep`) or a request would pass the deadline
 */
export async function sendWithRetry(request: HttpRequest, options: RetryOptions): Promise<HttpResult> {
  const maxAttempts = options.maxAttempts ?? 8;
  let lastProblem = '';
  for (let attempt = 1; ; attempt++) {
    await options.pacer?.acquire();
    const remaining = options.remainingMs?.() ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) throw new DeadlineReachedError('no time left for another request');
    let waitMs: number | undefined;
    try {
      const init: Parameters<HttpFetch>[1] = {
        method: request.method,
        headers: request.headers,
        signal: AbortSignal.timeout(
          Math.max(1, Math.floor(Math.min(options.timeoutMs ?? 30_000, remaining))),
        ),
      };
      if (request.body !== undefined) init.body = request.body;
      const response = await options.fetch(request.url, init);
      const text = await response.text();
      if (!isRetryableStatus(response.status)) {
        return { status: response.status, headers: response.headers, text };
      }
      lastProblem = `HTTP ${response.status}`;
      waitMs = parseRetryAfterMs(response.headers.get('retry-after'), options.now());
    } catch (error) {
      // A timeout, a reset or a stale keep-alive socket: worth another attempt.
      lastProblem = (error as Error).name ?? 'network error';
    }
    if (attempt >= maxAttempts) {
      throw new DependencyError(
        options.dependency,
        `${options.dependency}: ${request.method} ${redactUrl(request.url)} failed after ${attempt} attempts (${lastProblem})`,
      );
    }
    await options.sleep(waitMs ?? backoffDelayMs(attempt, options.random));
  }
}

/** The URL without its query string: cursors and filters are noise in an error message. */
function redactUrl(url: string): string {
  const cut = url.indexOf('?');
  return cut < 0 ? url : url.slice(0, cut);
}
