import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeBackoffMs,
  isRetryableNetworkCode,
  isRetryableStatus,
  parseRetryAfterMs,
} from '../../../lib/cleartalk/retry.js';

describe('computeBackoffMs', () => {
  const opts = { baseMs: 250, capMs: 20_000 };

  it('stays within [0, min(cap, base * 2^(attempt-1))] for every attempt and random draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (attempt, r) => {
          const delay = computeBackoffMs(attempt, { ...opts, random: () => r });
          const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** (attempt - 1));
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(ceiling);
          expect(Number.isInteger(delay)).toBe(true);
        },
      ),
    );
  });

  it('doubles the ceiling per attempt until the cap', () => {
    const top = (attempt: number) => computeBackoffMs(attempt, { ...opts, random: () => 1 });
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map(top)).toEqual([
      250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 20_000, 20_000,
    ]);
  });

  it('applies full jitter: the wait is the random share of the ceiling', () => {
    expect(computeBackoffMs(3, { ...opts, random: () => 0 })).toBe(0);
    expect(computeBackoffMs(3, { ...opts, random: () => 0.25 })).toBe(250);
    expect(computeBackoffMs(3, { ...opts, random: () => 0.999 })).toBe(999);
  });

  it('clamps a random source that strays outside [0, 1]', () => {
    expect(computeBackoffMs(1, { ...opts, random: () => 7 })).toBe(250);
    expect(computeBackoffMs(1, { ...opts, random: () => -1 })).toBe(0);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-11-27T10:00:00Z');

  it('reads delta-seconds as seconds, not milliseconds', () => {
    expect(parseRetryAfterMs('5', now)).toBe(5_000);
    expect(parseRetryAfterMs(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfterMs('0', now)).toBe(0);
    expect(parseRetryAfterMs('1.5', now)).toBe(1_500);
  });

  it('reads an IMF-fixdate relative to now', () => {
    expect(parseRetryAfterMs('Fri, 27 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
  });

  it('reads the obsolete RFC 850 and asctime forms as GMT', () => {
    expect(parseRetryAfterMs('Friday, 27-Nov-26 10:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfterMs('Fri Nov 27 10:00:20 2026', now)).toBe(20_000);
  });

  it('gives 0 for a past date or a negative number', () => {
    expect(parseRetryAfterMs('Thu, 26 Nov 2026 10:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfterMs('-3', now)).toBe(0);
  });

  it('gives undefined for a missing or unreadable header', () => {
    for (const header of [
      undefined,
      '',
      '   ',
      'soon',
      'tomorrow',
      '5s',
      '10ms',
      'Fri, 99 Foo 2026 xx:00:00 GMT',
      '2026-11-27T10:00:30Z',
    ]) {
      expect(parseRetryAfterMs(header, now)).toBeUndefined();
    }
  });
});

describe('isRetryableStatus', () => {
  it('retries 408, 425, 429 and 5xx except 501 and 505', () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504, 507, 599])
      expect(isRetryableStatus(status)).toBe(true);
  });

  it('does not retry 2xx, 3xx, other 4xx, 501 or 505', () => {
    for (const status of [200, 201, 301, 400, 401, 403, 404, 409, 410, 422, 501, 505]) {
      expect(isRetryableStatus(status)).toBe(false);
    }
  });
});

describe('isRetryableNetworkCode', () => {
  it('retries resets, refusals, DNS failures, hang-ups and timeouts', () => {
    for (const code of [
      'ECONNRESET',
      'ECONNREFUSED',
      'ENOTFOUND',
      'EAI_AGAIN',
      'ETIMEDOUT',
      'ECONNABORTED',
      'EPIPE',
    ]) {
      expect(isRetryableNetworkCode(code)).toBe(true);
    }
  });

  it('does not retry programming errors or unknown failures', () => {
    for (const code of [
      undefined,
      'ERR_INVALID_URL',
      'ERR_BAD_OPTION',
      'ERR_INVALID_CHAR',
      'ERR_BAD_REQUEST',
    ]) {
      expect(isRetryableNetworkCode(code)).toBe(false);
    }
  });
});
