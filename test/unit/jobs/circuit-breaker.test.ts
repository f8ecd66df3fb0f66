import { describe, expect, it } from 'vitest';
import {
  BREAKER_WINDOW,
  type BreakerState,
  breakerKey,
  clientHooksFor,
  createCircuitBreaker,
} from '../../../lib/jobs/circuit-breaker.js';

function setup(options: { failureThreshold?: number; cooldownMs?: number } = {}) {
  let clock = 1_000;
  const changes: BreakerState[] = [];
  const breaker = createCircuitBreaker({
    failureThreshold: 3,
    cooldownMs: 10_000,
    ...options,
    now: () => clock,
    onStateChange: (state) => changes.push(state),
  });
  return { breaker, changes, advance: (ms: number) => (clock += ms) };
}

describe('circuit breaker', () => {
  it('opens after failures of different contacts with no answer between', () => {
    const { breaker } = setup();
    breaker.recordFailure('a');
    breaker.recordFailure('b');
    expect(breaker.allowRequest()).toBe(true);
    breaker.recordFailure('c');
    expect(breaker.state()).toBe('open');
    expect(breaker.allowRequest()).toBe(false);
  });

  it('never opens on one contact failing again and again', () => {
    const { breaker } = setup();
    for (let i = 0; i < 50; i++) breaker.recordFailure('hot-contact');
    expect(breaker.state()).toBe('closed');
    expect(breaker.allowRequest()).toBe(true);
  });

  it('stays closed while failures are under 90% of the latest outcomes, and opens once they reach it', () => {
    const { breaker } = setup();
    breaker.recordFailure('a');
    breaker.recordFailure('b');
    breaker.recordSuccess();
    breaker.recordFailure('c');
    breaker.recordFailure('d');
    // 4 failures of 5 outcomes (80%).
    expect(breaker.state()).toBe('closed');
    for (const key of ['e', 'f', 'g', 'h']) breaker.recordFailure(key);
    // 8 of 9 (89%).
    expect(breaker.state()).toBe('closed');
    breaker.recordFailure('i');
    // 9 of 10.
    expect(breaker.state()).toBe('open');
  });

  it('forgets outcomes older than the window', () => {
    const { breaker } = setup();
    // Two answers, then failures: the answers slide out of the 20-outcome window.
    breaker.recordSuccess();
    breaker.recordSuccess();
    for (let i = 0; i < BREAKER_WINDOW - 2; i++) breaker.recordFailure(`c${i}`);
    // 18 failures of 20 (90%) already.
    expect(breaker.state()).toBe('open');
  });

  it('needs the threshold of failures: the default 10 at the defaults', () => {
    const breaker = createCircuitBreaker({ now: () => 0 });
    for (let i = 0; i < 9; i++) breaker.recordFailure(`c${i}`);
    expect(breaker.state()).toBe('closed');
    breaker.recordFailure('c9');
    expect(breaker.state()).toBe('open');
  });

  it('needs failures of at least 3 contacts', () => {
    const breaker = createCircuitBreaker({ now: () => 0 });
    for (let i = 0; i < 30; i++) breaker.recordFailure(i % 2 === 0 ? 'a' : 'b');
    expect(breaker.state()).toBe('closed');
    breaker.recordFailure('c');
    expect(breaker.state()).toBe('open');
  });

  it('never opens on random faults in a third of the attempts (the soak fault mix), at the defaults', () => {
    // A seeded generator (mulberry32), so the run is the same every time.
    let seed = 42;
    const random = () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const changes: BreakerState[] = [];
    const breaker = createCircuitBreaker({ now: () => 0, onStateChange: (state) => changes.push(state) });
    let failures = 0;
    for (let i = 0; i < 50_000; i++) {
      if (random() < 0.37) {
        failures++;
        breaker.recordFailure(`c${Math.floor(random() * 1_000)}`);
      } else {
        breaker.recordSuccess();
      }
    }
    expect(failures).toBeGreaterThan(17_000);
    expect(changes).toEqual([]);
  });

  it('lets one trial request through after the cooldown and closes when it succeeds', () => {
    const { breaker, changes, advance } = setup();
    for (const key of ['a', 'b', 'c']) breaker.recordFailure(key);
    advance(9_999);
    expect(breaker.allowRequest()).toBe(false);
    advance(1);
    expect(breaker.state()).toBe('half-open');
    expect(breaker.allowRequest()).toBe(true);
    expect(breaker.allowRequest()).toBe(false);
    breaker.recordSuccess();
    expect(breaker.state()).toBe('closed');
    expect(breaker.allowRequest()).toBe(true);
    expect(changes).toEqual(['open', 'half-open', 'closed']);
  });

  it('opens for another cooldown when the trial fails', () => {
    const { breaker, advance } = setup();
    for (const key of ['a', 'b', 'c']) breaker.recordFailure(key);
    advance(10_000);
    expect(breaker.allowRequest()).toBe(true);
    breaker.recordFailure('d');
    expect(breaker.state()).toBe('open');
    advance(5_000);
    expect(breaker.allowRequest()).toBe(false);
    advance(5_000);
    expect(breaker.allowRequest()).toBe(true);
  });

  it('frees the trial slot when the trial told nothing about ClearTalk', () => {
    const { breaker, advance } = setup();
    for (const key of ['a', 'b', 'c']) breaker.recordFailure(key);
    advance(10_000);
    expect(breaker.allowRequest()).toBe(true);
    breaker.recordNeutral();
    expect(breaker.allowRequest()).toBe(true);
  });
});

describe('clientHooksFor', () => {
  it('counts each failed attempt under its contact and lets retries through only while closed', () => {
    const breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 10_000, now: () => 0 });
    const hooks = clientHooksFor(breaker);
    hooks.onFailedAttempt({ path: '/contacts/1' });
    hooks.onFailedAttempt({ path: '/contacts/1' });
    hooks.onFailedAttempt({ path: '/contacts/2' });
    expect(hooks.retryGate()).toBe(true);
    hooks.onFailedAttempt({ path: '/contacts' });
    expect(breaker.state()).toBe('open');
    expect(hooks.retryGate()).toBe(false);
  });

  it('keys a request by its contact', () => {
    expect(breakerKey('/contacts/7')).toBe('7');
    expect(breakerKey('/contacts/7?x=1')).toBe('7');
    expect(breakerKey('/contacts')).toBe('/contacts');
  });
});
