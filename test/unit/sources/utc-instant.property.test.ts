import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normaliseDate, toUtcInstant } from '../../../lib/sources/normalise.js';

// toUtcInstant skips Date for UTC input and checks month lengths by table; this reference is the
// straightforward Date-based version it must agree with.
function referenceUtcInstant(raw: string): string | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/.exec(
      raw.trim(),
    );
  if (!m) return undefined;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as number[] as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = m[6] === undefined ? 0 : Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(local);
  if (check.getUTCDate() !== day || check.getUTCMonth() !== month - 1) return undefined;
  let offset = 0;
  if (m[7] === undefined) {
    const hours = Number(m[9]);
    const minutes = m[10] === undefined ? 0 : Number(m[10]);
    if (hours > 23 || minutes > 59) return undefined;
    offset = (m[8] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  const instant = new Date(local - offset * 60_000);
  return Number.isNaN(instant.getTime()) ? undefined : `${instant.toISOString().slice(0, 19)}Z`;
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

describe('toUtcInstant', () => {
  it('agrees with the Date-based reference on valid and invalid timestamps', () => {
    const timestamp = fc
      .tuple(
        fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1900, 2000, 2024, 2100)),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.integer({ min: 0, max: 24 }),
        fc.integer({ min: 0, max: 60 }),
        fc.constantFrom('', ':00', ':59', ':60', ':07.123456'),
        fc.constantFrom('Z', 'z', '+00:00', '-00:00', '+0000', '+00', '+05:30', '-11:45', '+24:00', '+00:60'),
      )
      .map(([y, mo, d, h, mi, s, o]) => `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}${s}${o}`);
    fc.assert(
      fc.property(timestamp, (raw) => {
        expect(toUtcInstant(raw)).toBe(referenceUtcInstant(raw));
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees with the reference when an offset moves the instant into another day, month or year', () => {
    const edge = fc
      .tuple(
        fc.constantFrom(999, 1000, 1001, 1900, 2023, 2024, 2100, 9998, 9999),
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(1, 28, 29, 30, 31),
        fc.constantFrom(0, 1, 22, 23),
        fc.constantFrom(0, 15, 59),
        fc.constantFrom('+', '-'),
        fc.integer({ min: 0, max: 23 }),
        fc.constantFrom(0, 30, 45, 59),
      )
      .map(
        ([y, mo, d, h, mi, sign, oh, om]) =>
          `${pad(y, 4)}-${pad(mo)}-${pad(d)}T${pad(h)}:${pad(mi)}:07${sign}${pad(oh)}:${pad(om)}`,
      );
    fc.assert(
      fc.property(edge, (raw) => {
        expect(toUtcInstant(raw)).toBe(referenceUtcInstant(raw));
      }),
      { numRuns: 5000 },
    );
    expect(toUtcInstant('2026-12-31T23:30:00-01:00')).toBe('2027-01-01T00:30:00Z');
    expect(toUtcInstant('2027-01-01T00:30:00+01:00')).toBe('2026-12-31T23:30:00Z');
    expect(toUtcInstant('2024-03-01T00:10:00+00:30')).toBe('2024-02-29T23:40:00Z');
  });

  it('rejects days a month does not have on the UTC fast path', () => {
    expect(toUtcInstant('2026-02-29T10:00:00Z')).toBeUndefined();
    expect(toUtcInstant('2024-02-29T10:00:00Z')).toBe('2024-02-29T10:00:00Z');
    expect(toUtcInstant('2100-02-29T10:00:00+00:00')).toBeUndefined();
    expect(toUtcInstant('2000-02-29T10:00:00-00:00')).toBe('2000-02-29T10:00:00Z');
    expect(toUtcInstant('2026-04-31T10:00:00Z')).toBeUndefined();
  });
});

// normaliseDate checks the day by the month-length table for 4-digit years; this is the
// Date-based check it replaced (the timestamp part is validated by toUtcInstant, tested above).
function referenceNormaliseDate(raw: string): string | undefined {
  const text = raw.trim();
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:$|[T ])/.exec(text);
  if (!match) return undefined;
  const local = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?$/;
  if (text.length > 10 && referenceUtcInstant(text.replace(' ', 'T')) === undefined && !local.test(text)) {
    return undefined;
  }
  const [, year, month, day] = match as unknown as [string, string, string, string];
  const date = new Date(Date.UTC(Number(year), Number(month) - 1, Number(day)));
  if (
    date.getUTCFullYear() !== Number(year) ||
    date.getUTCMonth() !== Number(month) - 1 ||
    date.getUTCDate() !== Number(day)
  ) {
    return undefined;
  }
  return `${year}-${month}-${day}`;
}

describe('normaliseDate', () => {
  it('agrees with the Date-based reference on dates and timestamps', () => {
    const date = fc
      .tuple(
        fc.oneof(
          fc.integer({ min: 0, max: 9999 }),
          fc.constantFrom(99, 100, 999, 1000, 1900, 2000, 2024, 2100),
        ),
        fc.integer({ min: 0, max: 13 }),
        fc.integer({ min: 0, max: 32 }),
        fc.constantFrom('', 'T10:00:00Z', 'T23:30:00-05:00', ' 10:00', 'T10:00:00', 'T25:00:00Z', 'x'),
      )
      .map(([y, mo, d, rest]) => `${pad(y, 4)}-${pad(mo)}-${pad(d)}${rest}`);
    fc.assert(
      fc.property(date, (raw) => {
        expect(normaliseDate(raw)).toBe(referenceNormaliseDate(raw));
      }),
      { numRuns: 5000 },
    );
  });
});
