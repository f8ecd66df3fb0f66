import { describe, expect, it } from 'vitest';
import { checkpointAfterPage, checkpointScopeFor, planSweep } from '../../../lib/backfill/sweep.js';

const NOW = Date.parse('2026-11-26T12:00:00.750Z');
const OVERLAP = 30 * 60_000;

describe('planSweep', () => {
  it('reads all history up to now (to the second) the first time', () => {
    expect(planSweep(undefined, { nowMs: NOW, overlapMs: OVERLAP })).toEqual({
      until: '2026-11-26T12:00:00Z',
    });
  });

  it('starts the next sweep the overlap before the last finished one', () => {
    expect(planSweep({ completedUntil: '2026-11-26T10:00:00Z' }, { nowMs: NOW, overlapMs: OVERLAP })).toEqual(
      {
        since: '2026-11-26T09:30:00Z',
        until: '2026-11-26T12:00:00Z',
      },
    );
  });

  it('resumes a sweep under way with its own window and cursor, whatever the time', () => {
    const sweep = { since: '2026-11-26T09:30:00Z', until: '2026-11-26T11:00:00Z', cursor: 'tok42' };
    expect(
      planSweep({ completedUntil: '2026-11-26T10:00:00Z', sweep }, { nowMs: NOW, overlapMs: OVERLAP }),
    ).toBe(sweep);
  });

  it('uses a request’s explicit bounds', () => {
    expect(
      planSweep(undefined, {
        nowMs: NOW,
        overlapMs: OVERLAP,
        since: '2026-01-01T00:00:00Z',
        until: '2026-02-01T00:00:00Z',
      }),
    ).toEqual({ since: '2026-01-01T00:00:00Z', until: '2026-02-01T00:00:00Z' });
  });
});

describe('checkpointAfterPage', () => {
  const sweep = { since: '2026-11-26T09:30:00Z', until: '2026-11-26T12:00:00Z' };

  it('keeps the window and moves the cursor after a page that is not the last', () => {
    expect(
      checkpointAfterPage(
        { completedUntil: '2026-11-26T10:00:00Z' },
        { ...sweep, cursor: 'a' },
        { last: false, cursor: 'b' },
      ),
    ).toEqual({ completedUntil: '2026-11-26T10:00:00Z', sweep: { ...sweep, cursor: 'b' } });
  });

  it('records the finished window after the last page', () => {
    expect(checkpointAfterPage(undefined, sweep, { last: true, cursor: 'z' })).toEqual({
      completedUntil: '2026-11-26T12:00:00Z',
    });
  });
});

describe('checkpointScopeFor', () => {
  it('keeps scheduled runs and windowed requests in separate checkpoints', () => {
    expect(checkpointScopeFor('lT4Z3j', {})).toBe('lT4Z3j');
    expect(checkpointScopeFor('lT4Z3j', { since: '2026-01-01T00:00:00Z' })).toBe(
      'lT4Z3j@2026-01-01T00:00:00Z..',
    );
  });
});
