import { describe, expect, it } from 'vitest';
import { type BreakerState, createCircuitBreaker } from '../../../lib/jobs/circuit-breaker.js';

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
  it('opens after consecutive failures of different contacts', () => {
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

  it('starts counting again after a success', () => {
    const { breaker } = setup();
    breaker.recordFailure('a');
    breaker.recordFailure('b');
    breaker.recordSuccess();
    breaker.recordFailure('c');
    breaker.recordFailure('d');
    expect(breaker.state()).toBe('closed');
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
