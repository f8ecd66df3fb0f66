import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { createSecretCache } from '../lib/aws/secrets.js';
import { createBackfillDeps } from '../lib/backfill/create-backfill.js';
import { parseBackfillEvent } from '../lib/backfill/request.js';
import { type BackfillSummary, runBackfill, summaryForLog } from '../lib/backfill/run-backfill.js';
import { loadConfig } from '../lib/config.js';
import { createLogger } from '../lib/observability.js';
import { loadMappingConfig } from '../lib/sources/mapping-config.js';

// Cold start: configuration (every problem at once), clients, secret cache and the shared pacers.
const config = loadConfig(process.env, ['PATCH_QUEUE_URL', 'STATE_TABLE_NAME']);
const logger = createLogger('backfill');
const deps = createBackfillDeps(
  config,
  {
    sqs: new SQSClient({}),
    dynamodb: DynamoDBDocumentClient.from(new DynamoDBClient({})),
    secrets: createSecretCache({
      client: new SecretsManagerClient({}),
      ttlMs: config.SECRET_CACHE_TTL_SECONDS * 1_000,
    }),
  },
  { mapping: loadMappingConfig(config.MAPPINGS_FILE) },
);

/** EventBridge schedule or a direct invoke `{source, formIds?, since?, until?, dryRun?, maxRecords?}`. */
export async function handler(event: unknown, context: Context): Promise<BackfillSummary> {
  const invocation = parseBackfillEvent(event);
  const deadlineAt = Date.now() + context.getRemainingTimeInMillis() - config.DEADLINE_SAFETY_MS;
  const summary = await runBackfill(invocation, deps, { deadlineAt });
  // Samples hold contact data: they go back to the invoker, never into the logs.
  if (summary.sources.some((s) => s.error))
    logger.error('backfill finished with errors', summaryForLog(summary));
  else logger.info('backfill finished', summaryForLog(summary));
  return summary;
}
