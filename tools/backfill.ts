/**
 * `npm run backfill -- --source typeform --form <id> [--form <id>…] [--since ISO] [--until ISO] [--dry-run] [--max-records N]`
 * `npm run backfill -- --source shopify [--since ISO] [--until ISO] [--dry-run] [--max-records N]`
 *
 * Runs the same code as the backfill Lambda (createBackfillDeps + runBackfill) against the AWS the
 * SDK is configured for (AWS_PROFILE/AWS_REGION, or AWS_ENDPOINT_URL for moto) and the contract
 * environment variables (PATCH_QUEUE_URL, STATE_TABLE_NAME, TYPEFORM_API_TOKEN_SECRET_ID, …).
 * Progress goes to stderr, the summary table to stdout (`--json` prints the summary object).
 * Stopping it (Ctrl-C) is safe: checkpoints only move after a page is on the queue, so a rerun
 * of the same command continues where it stopped.
 * Exit codes: 0 all done, 1 a source failed or stopped early, 2 bad arguments or configuration.
 */
import { parseArgs } from 'node:util';
import { formatProgress, formatSummaryTable } from '../lib/backfill/progress.js';
import { parseBackfillEvent } from '../lib/backfill/request.js';
import { runBackfill } from '../lib/backfill/run-backfill.js';
import type { ScopeProgress } from '../lib/backfill/run-scope.js';
import { createBackfillRuntime } from '../lib/backfill/runtime.js';
import { SyncError } from '../lib/errors.js';

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      source: { type: 'string' },
      form: { type: 'string', multiple: true },
      since: { type: 'string' },
      until: { type: 'string' },
      'dry-run': { type: 'boolean', default: false },
      'max-records': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run backfill -- --source typeform|shopify [--form <id>]... [--since ISO] [--until ISO] [--dry-run] [--max-records N] [--json]\n',
    );
    return 0;
  }
  // The same request the Lambda takes, validated by the same schema.
  const invocation = parseBackfillEvent({
    source: values.source,
    ...(values.form ? { formIds: values.form } : {}),
    ...(values.since ? { since: values.since } : {}),
    ...(values.until ? { until: values.until } : {}),
    dryRun: values['dry-run'],
    ...(values['max-records'] ? { maxRecords: Number(values['max-records']) } : {}),
  });
  let lastDraw = 0;
  const interactive = process.stderr.isTTY === true;
  const draw = (progress: ScopeProgress) => {
    const now = Date.now();
    // A terminal gets a redrawn line; a log file one line every few seconds at most.
    if (!interactive && now - lastDraw < 5_000) return;
    lastDraw = now;
    // The scope's own elapsed time: timed from the run's start, a second form's rate would count
    // the minutes the first one took, and its ETA would be far too long.
    const line = formatProgress(progress, progress.elapsedMs);
    process.stderr.write(interactive ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  const { deps } = createBackfillRuntime(process.env, { onProgress: draw });
  const summary = await runBackfill(invocation, deps, { deadlineAt: Number.POSITIVE_INFINITY });
  if (interactive) process.stderr.write('\n');
  process.stdout.write(`${values.json ? JSON.stringify(summary, null, 2) : formatSummaryTable(summary)}\n`);
  return summary.done ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Every parseArgs refusal (unknown option, positional argument, missing or stray value) is a
    // bad argument: exit 2, as documented, not 1 (which scripts read as "stopped early, rerun").
    const known =
      error instanceof SyncError || /^ERR_PARSE_ARGS_/.test((error as { code?: string }).code ?? '');
    process.stderr.write(`backfill: ${(error as Error).message}\n`);
    process.exitCode = known ? 2 : 1;
  },
);
