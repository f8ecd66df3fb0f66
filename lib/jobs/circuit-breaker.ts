/**
 * A circuit breaker for ClearTalk (issue 4 §4): when ClearTalk itself keeps failing, stop calling
 * it and hand records back at once instead of burning Lambda time on requests that will fail.
 *
 * It counts consecutive retryable failures across DIFFERENT contacts: one contact that keeps
 * failing (a poisoned record, a hot contact) adds one to the run however often it fails, so it can
 * never trip the breaker alone. Any success ends the run. After `cooldownMs` the breaker lets one
 * trial request through (half-open): success closes it, failure opens it for another cooldown.
 */

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
  /** Distinct contacts in a row whose requests failed. @default 5 */
  readonly failureThreshold?: number;
  /** How long the breaker stays open before a trial request. @default 30_000 */
  readonly cooldownMs?: number;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
  /** Told of every state change (for logs and metrics). */
  readonly onStateChange?: (state: BreakerState) => void;
}

/** Creates a circuit breaker (module scope in the handler, so it survives warm invocations). */
export function createCircuitBreaker(options: CircuitBreakerOptions = {}): CircuitBreaker {
  const failureThreshold = options.failureThreshold ?? 5;
  const cooldownMs = options.cooldownMs ?? 30_000;
  const now = options.now ?? Date.now;
  let failingContacts = new Set<string>();
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
    report();
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
      failingContacts = new Set();
      openedAt = undefined;
      trialInFlight = false;
      report();
    },
    recordFailure(contactKey) {
      if (currentState() === BREAKER_STATES.halfOpen && trialInFlight) return open();
      // Failures of requests that were already in flight when the breaker opened change nothing.
      if (openedAt !== undefined) return;
      failingContacts.add(contactKey);
      if (failingContacts.size >= failureThreshold) {
        failingContacts = new Set();
        open();
      }
    },
    recordNeutral() {
      trialInFlight = false;
    },
  };
}
