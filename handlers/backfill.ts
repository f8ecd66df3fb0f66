import type { Context } from 'aws-lambda';
import { parseBackfillEvent } from '../lib/backfill/request.js';
import {
  type BackfillSummary,
  backfillFailure,
  runBackfill,
  summaryForLog,
} from '../lib/backfill/run-backfill.js';
import { createBackfillRuntime } from '../lib/backfill/runtime.js';
import { createLogger } from '../lib/observability.js';

// Cold start: configuration (every problem at once), clients, secret cache and the shared pacers.
const { config, deps } = createBackfillRuntime(process.env);
const logger = createLogger('backfill');

/**
 * EventBridge schedule or a direct invoke `{source, formIds?, since?, until?, dryRun?, maxRecords?}`.
 * @throws {BackfillFailedError} when a scope stopped on an error (after logging the summary)
 */
export async function handler(event: unknown, context: Context): Promise<BackfillSummary> {
  const invocation = parseBackfillEvent(event);
  const deadlineAt = Date.now() + context.getRemainingTimeInMillis() - config.DEADLINE_SAFETY_MS;
  const summary = await runBackfill(invocation, deps, { deadlineAt });
  // A failed scope fails the invocation: Lambda's Errors metric, and so the alarm, see it. A
  // conflict (an overlapping run got there first) is not a failure, so it is not logged as one.
  const failure = backfillFailure(summary);
  // Samples hold contact data: they go back to the invoker, never into the logs.
  if (failure) logger.error('backfill finished with errors', summaryForLog(summary));
  else logger.info('backfill finished', summaryForLog(summary));
  if (failure) throw failure;
  return summary;
}
