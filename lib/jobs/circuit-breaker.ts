/**
 * A circuit breaker for ClearTalk (issue 4 §4): when ClearTalk itself keeps failing, stop calling
 * it and hand records back at once instead of burning Lambda time on requests that will fail.
 *
 * It watches ClearTalk's last {@link BREAKER_WINDOW} outcomes (every failed attempt, reported by the
 * client, and every answer) and opens when they are mostly failures: at least `failureThreshold`
 * failed, failures are at least {@link BREAKER_FAILURE_RATE} of the window, and they come from at least
 * {@link BREAKER_MIN_CONTACTS} different contacts. So an outage opens it after `failureThreshold`
 * failed attempts; a ClearTalk that still answers most requests (random faults, even a third of
 * them) never does, because the client's own retries handle those; and one contact that keeps
 * failing (a poisoned record) cannot trip it alone. After `cooldownMs` the breaker lets one trial
 * request through (half-open): success closes it, failure opens it for another cooldown.
 */

/** How many of ClearTalk's latest outcomes the breaker looks at. */
export const BREAKER_WINDOW = 20;
/** The share of the window that must be failures for the breaker to open. */
export const BREAKER_FAILURE_RATE = 0.9;
/** Failures of fewer contacts than this never open the breaker (nor fewer than the threshold). */
export const BREAKER_MIN_CONTACTS = 3;

export const BREAKER_STATES = { closed: 'closed', open: 'open', halfOpen: 'half-open' } as const;
export type BreakerState = (typeof BREAKER_STATES)[keyof typeof BREAKER_STATES];

export interface CircuitBreaker {
  /** The state now (an open breaker whose cooldown has passed reports half-open). */
  state(): BreakerState;
  /**
   * Whether a request may go to ClearTalk now. In half-open, only one caller gets `true` until
   * that trial reports back with `recordSuccess`, `recordFailure` or `recordNeutral`.
   */
  allowRequest(): boolean;
  /** ClearTalk answered (2xx, or a 4xx that is about the request, not its health). */
  recordSuccess(): void;
  /** ClearTalk failed in a way a retry might fix (5xx, timeout, network) for this contact. */
  recordFailure(contactKey: string): void;
  /** The work ended without telling anything about ClearTalk (duplicate, stale, state-store error). */
  recordNeutral(): void;
}

export interface CircuitBreakerOptions {
  /** Failed attempts in the window that open the breaker (with the rate and contacts). @default 10 */
  readonly failureThreshold?: number;
  /** How long the breaker stays open before a trial request. @default 30_000 */
  readonly cooldownMs?: number;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
  /** Told of every state change (for logs and metrics). */
  readonly onStateChange?: (state: BreakerState) => void;
}

/**
 * The contact a ClearTalk request path is about (`/contacts/7` -> `7`), the key the worker also
 * counts a failed record under, so one contact is one failure however it is reported.
 */
export function breakerKey(path: string): string {
  const match = /^\/contacts\/([^/?]+)/.exec(path);
  return match?.[1] ?? path;
}

/**
 * The ClearTalk client options that tie it to the breaker: every failed attempt counts (not only
 * a record whose retries ran out: with 8 records in flight and 6 attempts each, an outage cost a
 * 10-record batch 60 requests before the breaker opened), and once it is open, calls in flight stop
 * retrying, so their records are handed back at once.
 */
export function clientHooksFor(breaker: CircuitBreaker): {
  onFailedAttempt: (info: { path: string }) => void;
  retryGate: () => boolean;
} {
  return {
    onFailedAttempt: ({ path }) => breaker.recordFailure(breakerKey(path)),
    retryGate: () => breaker.state() === BREAKER_STATES.closed,
  };
}

/** Creates a circuit breaker (module scope in the handler, so it survives warm invocations). */
export function createCircuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const failureThreshold = Math.min(options.failureThreshold ?? 10, BREAKER_WINDOW);
  const minContacts = Math.min(BREAKER_MIN_CONTACTS, failureThreshold);
  const cooldownMs = options.cooldownMs ?? 30_000;
  const now = options.now ?? Date.now;
  // The latest outcomes, oldest first: the failing contact's key, or undefined for an answer.
  let window: Array<string | undefined> = [];
  let openedAt: number | undefined;
  let trialInFlight = false;
  let reported: BreakerState = BREAKER_STATES.closed;

  const currentState = (): BreakerState => {
    if (openedAt === undefined) return BREAKER_STATES.closed;
    return now() - openedAt >= cooldownMs ? BREAKER_STATES.halfOpen : BREAKER_STATES.open;
  };
  const report = () => {
    const state = currentState();
    if (state !== reported) {
      reported = state;
      options.onStateChange?.(state);
    }
  };
  const open = () => {
    openedAt = now();
    trialInFlight = false;
    window = [];
    report();
  };
  const push = (outcome: string | undefined) => {
    window.push(outcome);
    if (window.length > BREAKER_WINDOW) window.shift();
  };
  const mostlyFailing = (): boolean => {
    const failed = window.filter((key) => key !== undefined);
    return (
      failed.length >= failureThreshold &&
      failed.length >= BREAKER_FAILURE_RATE * window.length &&
      new Set(failed).size >= minContacts
    );
  };

  return {
    state: currentState,
    allowRequest() {
      const state = currentState();
      report();
      if (state === BREAKER_STATES.closed) return true;
      if (state === BREAKER_STATES.open || trialInFlight) return false;
      trialInFlight = true;
      return true;
    },
    recordSuccess() {
      if (openedAt !== undefined) {
        openedAt = undefined;
        trialInFlight = false;
        window = [];
      } else {
        push(undefined);
      }
      report();
    },
    recordFailure(contactKey) {
      if (currentState() === BREAKER_STATES.halfOpen && trialInFlight) return open();
      // Failures of requests that were already in flight when the breaker opened change nothing.
      if (openedAt !== undefined) return;
      push(contactKey);
      if (mostlyFailing()) open();
    },
    recordNeutral() {
      trialInFlight = false;
    },
  };
}
