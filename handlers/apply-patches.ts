import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { createApplyPatchesRuntime } from '../lib/jobs/runtime.js';

// Cold start: config, clients, the secret cache and the circuit breaker live as long as the
// container, so a warm invocation reuses cached keys, keep-alive sockets and the breaker's state.
// A configuration problem fails the init, naming every bad variable; the records stay queued.
const runtime = createApplyPatchesRuntime(process.env);

/**
 * SQS FIFO event source (batch <= 10, ReportBatchItemFailures): applies each PatchJob and
 * reports the records SQS must deliver again.
 */
export async function handler(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
  const deadlineMs = Date.now() + context.getRemainingTimeInMillis() - runtime.safetyMs;
  return runtime.worker.processBatch(event, deadlineMs);
}
