import { SyncError } from '../errors.js';

/**
 * Pure timing logic of the backfill readers: request pacing, `Retry-After`, backoff and the
 * Shopify cost bucket. No clock or timer of its own: callers pass `now` and `sleep`.
 */

export type Sleep = (ms: number) => Promise<void>;
export type Clock = () => number;

/** Real timers, for production wiring only (tests inject their own). */
export const realSleep: Sleep = (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The run must stop before the Lambda deadline: thrown instead of a wait that would pass it. */
export class DeadlineReachedError extends SyncError {
  override name = 'DeadlineReachedError';
  constructor(message = 'stopped before the deadline') {
    super(message, { code: 'deadline', retryable: true });
  }
}

/** Spaces calls at least `intervalMs` apart, in call order (a token bucket of size one). */
export interface Pacer {
  /** Resolves when the caller may send its request. */
  acquire(): Promise<void>;
  /** When the next call could go without waiting (ms epoch). */
  readonly nextSlotAt: number;
}

/**
 * Creates a pacer that lets one request start every `intervalMs`. Callers queue in order (one
 * chain), and each interval is measured from the moment the previous caller was actually let
 * through, not from when it was planned: a timer that fires late (a busy event loop mapping a
 * page) must not let the next request follow closer than `intervalMs`.
 *
 * `reserveSlot` shares the schedule with other processes (lib/aws/shared-pacer.ts): given the
 * earliest time this process could go, it returns the slot it may use (that time or later).
 */
export function createIntervalPacer(options: {
  intervalMs: number;
  now: Clock;
  sleep: Sleep;
  reserveSlot?: (notBefore: number) => Promise<number>;
}): Pacer {
  const { intervalMs, now, sleep, reserveSlot } = options;
  let lastAt = Number.NEGATIVE_INFINITY;
  let chain: Promise<void> = Promise.resolve();
  return {
    get nextSlotAt() {
      // This process's view: with `reserveSlot`, others may hold later slots.
      return lastAt + intervalMs;
    },
    acquire() {
      const turn = chain.then(async () => {
        const notBefore = Math.max(now(), lastAt + intervalMs);
        const slot = reserveSlot ? await reserveSlot(notBefore) : notBefore;
        const wait = slot - now();
        if (wait > 0) await sleep(wait);
        lastAt = now();
      });
      // A failed reservation or sleep (deadline) must not block the callers behind it.
      chain = turn.catch(() => {});
      return turn;
    },
  };
}

/**
 * Parses `Retry-After`: delay-seconds (never milliseconds) or an HTTP date. Returns the wait in
 * ms, or undefined when the header is absent or unreadable.
 */
export function parseRetryAfterMs(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1_000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Capped exponential backoff with full jitter: a random wait in [0, min(cap, base * 2^(attempt-1))].
 * @default baseMs 500, capMs 20_000
 */
export function backoffDelayMs(
  attempt: number,
  random: () => number,
  options: { baseMs?: number; capMs?: number } = {},
): number {
  const base = options.baseMs ?? 500;
  const cap = options.capMs ?? 20_000;
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** Shopify's `extensions.cost.throttleStatus`. */
export interface ThrottleStatus {
  readonly maximumAvailable: number;
  readonly currentlyAvailable: number;
  readonly restoreRate: number;
}

/**
 * How long to wait before a query of `cost` points can run, given the bucket as Shopify last
 * reported it `elapsedMs` ago (the bucket refills at `restoreRate` points per second).
 */
export function shopifyCostWaitMs(status: ThrottleStatus, cost: number, elapsedMs = 0): number {
  const needed = Math.min(cost, status.maximumAvailable);
  const available = Math.min(
    status.maximumAvailable,
    status.currentlyAvailable + (Math.max(0, elapsedMs) / 1_000) * status.restoreRate,
  );
  if (available >= needed) return 0;
  if (status.restoreRate <= 0) return 1_000;
  return Math.ceil(((needed - available) / status.restoreRate) * 1_000);
}

/**
 * A clock-bound deadline: `remainingMs()` and a `sleep` that refuses to wait past it.
 * `deadlineAt` is an epoch ms (Infinity for none).
 */
export function createDeadline(options: { deadlineAt: number; now: Clock; sleep: Sleep }) {
  return {
    deadlineAt: options.deadlineAt,
    remainingMs: () => options.deadlineAt - options.now(),
    /**
     * Sleeps `ms`, unless that would pass the deadline.
     * @throws {DeadlineReachedError} instead of a wait that would end after the deadline
     */
    async sleep(ms: number): Promise<void> {
      if (options.now() + ms > options.deadlineAt) {
        throw new DeadlineReachedError(`a ${ms} ms wait would pass the deadline`);
      }
      await options.sleep(ms);
    },
  };
}
export type Deadline = ReturnType<typeof createDeadline>;
