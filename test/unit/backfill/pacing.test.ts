import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  createDeadline,
  createIntervalPacer,
  DeadlineReachedError,
  parseRetryAfterMs,
  shopifyCostWaitMs,
} from '../../../lib/backfill/pacing.js';
import { createFakeClock } from '../../helpers/fake-clock.js';

describe('createIntervalPacer', () => {
  it('spaces requests 500 ms apart and lets the first one go at once', async () => {
    const clock = createFakeClock(1_000);
    const pacer = createIntervalPacer({ intervalMs: 500, ...clock });
    const starts: number[] = [];
    for (let i = 0; i < 4; i++) {
      await pacer.acquire();
      starts.push(clock.now());
    }
    expect(starts).toEqual([1_000, 1_500, 2_000, 2_500]);
  });

  it('queues concurrent callers instead of letting them burst', async () => {
    const clock = createFakeClock();
    const pacer = createIntervalPacer({ intervalMs: 500, ...clock });
    const starts: number[] = [];
    await Promise.all([1, 2, 3].map(() => pacer.acquire().then(() => starts.push(clock.now()))));
    expect(starts).toEqual([0, 500, 1_000]);
  });

  it('measures the interval from when the last caller actually went, not when it was planned', async () => {
    const clock = createFakeClock();
    let late = 0;
    // A sleep that overshoots, as a timer does on a busy event loop.
    const pacer = createIntervalPacer({
      intervalMs: 500,
      now: clock.now,
      sleep: (ms) => clock.sleep(ms + late),
    });
    await pacer.acquire();
    late = 80;
    await pacer.acquire();
    const second = clock.now();
    late = 0;
    await pacer.acquire();
    expect(second).toBe(580);
    expect(clock.now() - second).toBe(500);
  });

  it('does not block the queue behind a caller whose wait failed', async () => {
    const clock = createFakeClock();
    let fail = false;
    const pacer = createIntervalPacer({
      intervalMs: 500,
      now: clock.now,
      sleep: async (ms) => {
        if (fail) throw new DeadlineReachedError();
        await clock.sleep(ms);
      },
    });
    await pacer.acquire();
    fail = true;
    await expect(pacer.acquire()).rejects.toBeInstanceOf(DeadlineReachedError);
    fail = false;
    await expect(pacer.acquire()).resolves.toBeUndefined();
  });

  it('waits for the slot reserveSlot hands out, asking for the earliest time it could go', async () => {
    const clock = createFakeClock(1_000);
    const asked: number[] = [];
    // Another process holds the next 700 ms of the shared schedule.
    const pacer = createIntervalPacer({
      intervalMs: 500,
      ...clock,
      reserveSlot: async (notBefore) => {
        asked.push(notBefore);
        return notBefore + 700;
      },
    });
    await pacer.acquire();
    const first = clock.now();
    await pacer.acquire();
    expect(asked).toEqual([1_000, 2_200]);
    expect([first, clock.now()]).toEqual([1_700, 2_900]);
  });

  it('does not block the queue behind a caller whose reservation failed', async () => {
    const clock = createFakeClock();
    let calls = 0;
    const pacer = createIntervalPacer({
      intervalMs: 500,
      ...clock,
      reserveSlot: async (notBefore) => {
        calls++;
        if (calls === 1) throw new Error('table unreachable');
        return notBefore;
      },
    });
    const failed = pacer.acquire();
    const next = pacer.acquire();
    await expect(failed).rejects.toThrow('table unreachable');
    await expect(next).resolves.toBeUndefined();
  });

  it('does not wait when the caller was slower than the interval', async () => {
    const clock = createFakeClock();
    const pacer = createIntervalPacer({ intervalMs: 500, ...clock });
    await pacer.acquire();
    await clock.sleep(2_000);
    clock.sleeps.length = 0;
    await pacer.acquire();
    expect(clock.sleeps).toEqual([]);
  });
});

describe('parseRetryAfterMs', () => {
  it('reads delay-seconds as seconds, not milliseconds', () => {
    expect(parseRetryAfterMs('7', 0)).toBe(7_000);
    expect(parseRetryAfterMs('1.5', 0)).toBe(1_500);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    const now = Date.parse('2026-11-26T10:00:00Z');
    expect(parseRetryAfterMs('Thu, 26 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterMs('Thu, 26 Nov 2026 09:00:00 GMT', now)).toBe(0);
  });

  it('returns undefined for a missing or unreadable header', () => {
    expect(parseRetryAfterMs(null, 0)).toBeUndefined();
    expect(parseRetryAfterMs('', 0)).toBeUndefined();
    expect(parseRetryAfterMs('soon', 0)).toBeUndefined();
  });
});

describe('backoffDelayMs', () => {
  it('grows exponentially up to the cap with full jitter', () => {
    expect(backoffDelayMs(1, () => 0.999)).toBe(499);
    expect(backoffDelayMs(3, () => 0.5)).toBe(1_000);
    expect(backoffDelayMs(20, () => 0.999)).toBe(19_980);
    expect(backoffDelayMs(5, () => 0)).toBe(0);
  });
});

describe('shopifyCostWaitMs', () => {
  const status = { maximumAvailable: 1_000, currentlyAvailable: 100, restoreRate: 50 };

  it('waits until the bucket holds the next query cost', () => {
    expect(shopifyCostWaitMs(status, 352)).toBe(5_040);
  });

  it('counts the points restored since the report', () => {
    expect(shopifyCostWaitMs(status, 352, 2_000)).toBe(3_040);
    expect(shopifyCostWaitMs(status, 352, 10_000)).toBe(0);
  });

  it('does not wait when the bucket already holds enough', () => {
    expect(shopifyCostWaitMs(status, 100)).toBe(0);
  });

  it('never asks for more than the bucket can hold', () => {
    expect(shopifyCostWaitMs({ ...status, currentlyAvailable: 0 }, 5_000)).toBe(20_000);
  });
});

describe('createDeadline', () => {
  it('sleeps while the wait ends before the deadline', async () => {
    const clock = createFakeClock();
    const deadline = createDeadline({ deadlineAt: 1_000, ...clock });
    await deadline.sleep(600);
    expect(deadline.remainingMs()).toBe(400);
  });

  it('refuses a wait that would pass the deadline instead of sleeping through it', async () => {
    const clock = createFakeClock();
    const deadline = createDeadline({ deadlineAt: 1_000, ...clock });
    await expect(deadline.sleep(1_001)).rejects.toBeInstanceOf(DeadlineReachedError);
    expect(clock.sleeps).toEqual([]);
  });
});
