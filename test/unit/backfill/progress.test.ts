import { describe, expect, it } from 'vitest';
import { formatDuration, formatProgress, formatSummaryTable } from '../../../lib/backfill/progress.js';
import type { BackfillSummary } from '../../../lib/backfill/run-backfill.js';

const progress = {
  source: 'typeform' as const,
  scope: 'lT4Z3j',
  pagesRead: 2,
  recordsSeen: 2_000,
  jobsMapped: 1_990,
  elapsedMs: 0,
};

describe('formatProgress', () => {
  it('shows a bar, the rate and the ETA when the total is known', () => {
    expect(formatProgress({ ...progress, expectedTotal: 4_000 }, 10_000, 10)).toBe(
      '[typeform lT4Z3j] █████░░░░░ 2,000/4,000 · 200 rec/s · ETA 0:10',
    );
  });

  it('shows records and rate without a bar when the total is unknown', () => {
    expect(formatProgress({ ...progress, source: 'shopify', expectedTotal: undefined }, 4_000)).toBe(
      '[shopify lT4Z3j] 2,000 records · page 2 · 500 rec/s',
    );
  });
});

describe('formatDuration', () => {
  it('writes m:ss and h:mm:ss', () => {
    expect(formatDuration(65_000)).toBe('1:05');
    expect(formatDuration(3_725_000)).toBe('1:02:05');
  });
});

describe('formatSummaryTable', () => {
  it('lists each scope with its counts, status and skip reasons', () => {
    const summary: BackfillSummary = {
      trigger: 'request',
      dryRun: false,
      done: false,
      startedAt: '2026-11-26T10:00:00.000Z',
      finishedAt: '2026-11-26T10:01:00.000Z',
      sources: [
        {
          source: 'typeform',
          scope: 'lT4Z3j',
          window: { until: '2026-11-26T10:00:00Z' },
          pagesRead: 3,
          recordsSeen: 2_150,
          jobsMapped: 2_140,
          jobsEnqueued: 2_140,
          skipped: { 'no contact id, email or phone': 10 },
          checkpoint: null,
          done: false,
          stoppedBy: 'deadline',
        },
      ],
    };
    const table = formatSummaryTable(summary).split('\n');
    expect(table[0]).toBe('source    scope   pages  records  jobs  enqueued  skipped  status');
    expect(table[2]).toBe('typeform  lT4Z3j  3      2150     2140  2140      10       stopped: deadline');
    expect(table[3]).toBe('  skipped lT4Z3j: 10 × no contact id, email or phone');
  });
});
