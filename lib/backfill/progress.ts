import type { BackfillSummary } from './run-backfill.js';
import type { ScopeProgress } from './run-scope.js';

/**
 * Pure text for the command line: the progress bar (records, rate, ETA) and the summary table.
 * No terminal I/O here; `tools/backfill.ts` writes these to stderr/stdout.
 */

/** `[typeform lT4Z3j] ████████░░░░ 2,000/3,150 · 412 rec/s · ETA 0:03` (no bar or ETA when the total is unknown). */
export function formatProgress(progress: ScopeProgress, elapsedMs: number, width = 24): string {
  const rate = elapsedMs > 0 ? (progress.recordsSeen / elapsedMs) * 1_000 : 0;
  const label = `[${progress.source} ${progress.scope}]`;
  const seen = progress.recordsSeen.toLocaleString('en-US');
  const rateText = `${Math.round(rate).toLocaleString('en-US')} rec/s`;
  const total = progress.expectedTotal;
  if (total === undefined || total <= 0) {
    return `${label} ${seen} records · page ${progress.pagesRead} · ${rateText}`;
  }
  const done = Math.min(1, progress.recordsSeen / total);
  const filled = Math.round(done * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const left = Math.max(0, total - progress.recordsSeen);
  const eta = rate > 0 ? formatDuration((left / rate) * 1_000) : '?';
  return `${label} ${bar} ${seen}/${total.toLocaleString('en-US')} · ${rateText} · ETA ${eta}`;
}

/** `m:ss`, or `h:mm:ss` from an hour on. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1_000));
  const h = Math.floor(total / 3_600);
  const m = Math.floor((total % 3_600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A plain-text table with one row per source scope, then the skip reasons. */
export function formatSummaryTable(summary: BackfillSummary): string {
  const header = ['source', 'scope', 'pages', 'records', 'jobs', 'enqueued', 'skipped', 'status'];
  const rows = summary.sources.map((s) => [
    s.source,
    s.scope,
    String(s.pagesRead),
    String(s.recordsSeen),
    String(s.jobsMapped),
    String(s.jobsEnqueued),
    String(Object.values(s.skipped).reduce((a, b) => a + b, 0)),
    s.done ? 'done' : `stopped: ${s.stoppedBy ?? 'unknown'}${s.error ? ` (${s.error.code})` : ''}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  for (const s of summary.sources) {
    for (const [reason, count] of Object.entries(s.skipped))
      out.push(`  skipped ${s.scope}: ${count} × ${reason}`);
    if (s.error) out.push(`  error ${s.scope}: ${s.error.message}`);
  }
  out.push(summary.dryRun ? 'dry run: nothing was enqueued and no checkpoint moved' : '');
  return out.join('\n').trimEnd();
}
