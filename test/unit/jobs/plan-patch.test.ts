import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareInstants } from '../../../lib/calendar.js';
import {
  customFieldVersionKey,
  type FieldVersions,
  hashFieldValue,
  mergeFieldVersions,
  planPatch,
} from '../../../lib/jobs/plan-patch.js';

const T1 = '2026-11-26T10:00:00Z';
const T2 = '2026-11-26T11:00:00Z';

function version(value: string | number | boolean | null, occurredAt: string, jobId = 'old') {
  return { occurredAt, valueHash: hashFieldValue(value), jobId };
}

describe('planPatch', () => {
  it('sends every field when nothing is stored and records their versions', () => {
    const plan = planPatch({
      patch: { firstName: 'Ada', customField: { plan: 'pro' } },
      occurredAt: T1,
      jobId: 'j1',
      stored: {},
    });
    expect(plan.patch).toEqual({ firstName: 'Ada', customField: { plan: 'pro' } });
    expect(plan.dropped).toEqual([]);
    expect(plan.versions).toEqual({
      firstName: { occurredAt: '2026-11-26T10:00:00.000Z', valueHash: hashFieldValue('Ada'), jobId: 'j1' },
      'customField.plan': {
        occurredAt: '2026-11-26T10:00:00.000Z',
        valueHash: hashFieldValue('pro'),
        jobId: 'j1',
      },
    });
  });

  it('records the instant in UTC with milliseconds, whatever form the job wrote it in', () => {
    const recorded = (occurredAt: string) =>
      planPatch({ patch: { tag: 't' }, occurredAt, jobId: 'j1', stored: {} }).versions.tag?.occurredAt;
    expect(recorded('2026-11-26T12:30:00+02:00')).toBe('2026-11-26T10:30:00.000Z');
    expect(recorded('2026-11-26T10:30:00.5Z')).toBe('2026-11-26T10:30:00.500Z');
    expect(recorded('2026-11-26T10:30:00.000Z')).toBe('2026-11-26T10:30:00.000Z');
    // A day the month does not have is the instant Date.parse makes of it, written out.
    expect(recorded('2026-02-31T00:00:00.000Z')).toBe('2026-03-03T00:00:00.000Z');
    // The 29th of February exists in leap years only (every 4th, not every 100th, every 400th).
    expect(recorded('2024-02-29T00:00:00.000Z')).toBe('2024-02-29T00:00:00.000Z');
    expect(recorded('2000-02-29T00:00:00.000Z')).toBe('2000-02-29T00:00:00.000Z');
    expect(recorded('2100-02-29T00:00:00.000Z')).toBe('2100-03-01T00:00:00.000Z');
    expect(recorded('2026-02-29T00:00:00.000Z')).toBe('2026-03-01T00:00:00.000Z');
  });

  it('records exactly what toISOString writes for the parsed instant, for any text of that shape', () => {
    const recorded = (occurredAt: string) =>
      planPatch({ patch: { tag: 't' }, occurredAt, jobId: 'j1', stored: {} }).versions.tag?.occurredAt;
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
    // Every field in the canonical shape, out-of-range values included (month 13, day 31 in any
    // month, hour 24, second 60), and leap years around 1900, 2000 and 2100.
    const text = fc
      .tuple(
        fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1900, 2000, 2024, 2100, 2400)),
        two(13),
        two(32),
        two(25),
        two(60),
        two(61),
        fc.integer({ min: 0, max: 999 }),
      )
      .map(
        ([y, mo, d, h, mi, s, ms]) =>
          `${String(y).padStart(4, '0')}-${mo}-${d}T${h}:${mi}:${s}.${String(ms).padStart(3, '0')}Z`,
      );
    fc.assert(
      fc.property(text, (occurredAt) => {
        const parsed = Date.parse(occurredAt);
        if (Number.isNaN(parsed)) expect(() => recorded(occurredAt)).toThrow(RangeError);
        else expect(recorded(occurredAt)).toBe(new Date(parsed).toISOString());
      }),
      { numRuns: 3000 },
    );
  });

  it('drops a field whose stored version comes from a later change as stale', () => {
    const plan = planPatch({
      patch: { firstName: 'Old', lastName: 'Lovelace' },
      occurredAt: T1,
      jobId: 'j1',
      stored: { firstName: version('New', T2) },
    });
    expect(plan.patch).toEqual({ lastName: 'Lovelace' });
    expect(plan.dropped).toEqual([{ field: 'firstName', reason: 'stale' }]);
    expect(plan.versions.firstName).toBeUndefined();
  });

  it('compares instants, not strings, across offsets', () => {
    // 12:30+02:00 is 10:30Z: later than T1 (10:00Z) although the string sorts before it.
    const plan = planPatch({
      patch: { firstName: 'Old' },
      occurredAt: T1,
      jobId: 'j1',
      stored: { firstName: version('New', '2026-11-26T12:30:00+02:00') },
    });
    expect(plan.dropped).toEqual([{ field: 'firstName', reason: 'stale' }]);
  });

  it('drops a field whose value equals the value last applied as a no-op, and moves its version forward', () => {
    const plan = planPatch({
      patch: { firstName: 'Ada' },
      occurredAt: T2,
      jobId: 'j2',
      stored: { firstName: version('Ada', T1) },
    });
    expect(plan.patch).toBeUndefined();
    expect(plan.dropped).toEqual([{ field: 'firstName', reason: 'no-op' }]);
    expect(plan.versions.firstName?.occurredAt).toBe('2026-11-26T11:00:00.000Z');
  });

  it('applies a different value with the same occurredAt (the later-processed job wins)', () => {
    const plan = planPatch({
      patch: { firstName: 'Grace' },
      occurredAt: T1,
      jobId: 'j2',
      stored: { firstName: version('Ada', T1) },
    });
    expect(plan.patch).toEqual({ firstName: 'Grace' });
  });

  it('versions custom fields key by key', () => {
    const plan = planPatch({
      patch: { customField: { plan: 'basic', city: 'Paris', visits: 3 } },
      occurredAt: T1,
      jobId: 'j1',
      stored: {
        [customFieldVersionKey('plan')]: version('pro', T2),
        [customFieldVersionKey('city')]: version('Paris', T1),
      },
    });
    expect(plan.patch).toEqual({ customField: { visits: 3 } });
    expect(plan.dropped).toEqual([
      { field: 'customField.plan', reason: 'stale' },
      { field: 'customField.city', reason: 'no-op' },
    ]);
  });

  it('tells a number from the string of the same digits', () => {
    const plan = planPatch({
      patch: { customField: { visits: 3 } },
      occurredAt: T2,
      jobId: 'j2',
      stored: { 'customField.visits': version('3', T1) },
    });
    expect(plan.patch).toEqual({ customField: { visits: 3 } });
  });

  it('never sends a field it reports as dropped, and sends every other field', () => {
    const fields = ['firstName', 'lastName', 'email', 'tag'] as const;
    fc.assert(
      fc.property(
        fc.record({ firstName: fc.string(), lastName: fc.string(), email: fc.string(), tag: fc.string() }),
        fc.array(fc.tuple(fc.constantFrom(...fields), fc.string(), fc.boolean()), { maxLength: 4 }),
        (patch, storedList) => {
          const stored: Record<string, ReturnType<typeof version>> = {};
          for (const [field, value, later] of storedList) stored[field] = version(value, later ? T2 : T1);
          const plan = planPatch({ patch, occurredAt: T1, jobId: 'j', stored });
          const droppedFields = new Set(plan.dropped.map((d) => d.field));
          for (const field of fields) {
            const sent = plan.patch?.[field] !== undefined;
            expect(sent).toBe(!droppedFields.has(field));
          }
        },
      ),
    );
  });
});

describe('mergeFieldVersions', () => {
  it('keeps the later version of each field from either side', () => {
    const stored: FieldVersions = { a: version('x', T2, 's'), b: version('y', T1, 's') };
    const updates: FieldVersions = {
      a: version('x2', T1, 'u'),
      b: version('y2', T2, 'u'),
      c: version('z', T1, 'u'),
    };
    expect(mergeFieldVersions(stored, updates)).toEqual({ a: stored.a, b: updates.b, c: updates.c });
  });
});

describe('compareInstants', () => {
  it('orders instants in time, whether written as toISOString does or with an offset', () => {
    const date = fc.date({ min: new Date(0), max: new Date(Date.UTC(9999, 0)), noInvalidDate: true });
    fc.assert(
      fc.property(date, date, fc.integer({ min: -14, max: 14 }), (a, b, offsetHours) => {
        const expected = Math.sign(a.getTime() - b.getTime());
        expect(Math.sign(compareInstants(a.toISOString(), b.toISOString()))).toBe(expected);
        // The same instant `b`, written with a whole-hour offset instead of Z.
        const shifted = new Date(b.getTime() + offsetHours * 3_600_000).toISOString().slice(0, 23);
        const sign = offsetHours < 0 ? '-' : '+';
        const offset = `${sign}${String(Math.abs(offsetHours)).padStart(2, '0')}:00`;
        expect(Math.sign(compareInstants(a.toISOString(), `${shifted}${offset}`))).toBe(expected);
      }),
      { numRuns: 300 },
    );
  });
});
