import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createCreationClaims } from '../aws/creation-claims.js';
import { createLinkStore } from '../aws/links.js';
import { createSecretCache } from '../aws/secrets.js';
import { createStateStore } from '../aws/state-store.js';
import { createClearTalkClient } from '../cleartalk/client.js';
import { loadConfig } from '../config.js';
import { createLogger, createMetrics, MetricUnit } from '../observability.js';
import { loadMappingConfig, sourcePolicy } from '../sources/mapping-config.js';
import { leaseMarginFor } from './apply.js';
import { clientHooksFor, createCircuitBreaker } from './circuit-breaker.js';
import { createPatchWorker, type PatchWorker } from './worker.js';

/** Everything the apply-patches handler builds once per container. */
export interface ApplyPatchesRuntime {
  readonly worker: PatchWorker;
  /** DEADLINE_SAFETY_MS: kept back from Lambda's remaining time for bookkeeping. */
  readonly safetyMs: number;
}

/**
 * Builds the worker from the environment (cold start): config, the secret cache, the ClearTalk
 * client, DynamoDB and SQS clients, the mapping policy and the circuit breaker.
 * @throws {ConfigError} naming every missing or invalid variable
 */
export function createApplyPatchesRuntime(env: Record<string, string | undefined>): ApplyPatchesRuntime {
  const config = loadConfig(env, [
    'CLEARTALK_API_KEY_SECRET_ID',
    'PATCH_QUEUE_URL',
    'DEAD_LETTER_QUEUE_URL',
    'STATE_TABLE_NAME',
  ]);
  const logger = createLogger('apply-patches');
  const metrics = createMetrics('apply-patches');
  const mappings = loadMappingConfig(config.MAPPINGS_FILE);
  const secrets = createSecretCache({
    client: new SecretsManagerClient({}),
    ttlMs: config.SECRET_CACHE_TTL_SECONDS * 1_000,
  });
  const breaker = createCircuitBreaker({
    failureThreshold: config.BREAKER_FAILURE_THRESHOLD,
    cooldownMs: config.BREAKER_COOLDOWN_MS,
    onStateChange: (state) => logger.warn('circuit breaker', { breaker: state }),
  });
  const clearTalk = createClearTalkClient({
    baseUrl: config.CLEARTALK_BASE_URL,
    getApiKey: async ({ forceRefresh }) =>
      (await secrets.get(config.CLEARTALK_API_KEY_SECRET_ID, { forceRefresh })).value,
    timeoutMs: config.CLEARTALK_TIMEOUT_MS,
    maxAttempts: config.CLEARTALK_MAX_ATTEMPTS,
    onRetry: (info) => {
      metrics.addMetric('clearTalkRetries', MetricUnit.Count, 1);
      logger.info('ClearTalk retry', { ...info });
    },
    ...clientHooksFor(breaker),
  });
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const worker = createPatchWorker({
    clearTalk,
    state: createStateStore({ client: doc, tableName: config.STATE_TABLE_NAME }),
    links: {
      ...createLinkStore({ client: doc, tableName: config.STATE_TABLE_NAME }),
      ...createCreationClaims({ client: doc, tableName: config.STATE_TABLE_NAME }),
    },
    policy: (source) => sourcePolicy(mappings, source),
    sqs: new SQSClient({}),
    deadLetterQueueUrl: config.DEAD_LETTER_QUEUE_URL,
    breaker,
    concurrency: config.WORKER_CONCURRENCY,
    maxReceiveCount: config.MAX_RECEIVE_COUNT,
    lease: { waitMs: config.CONTACT_LEASE_WAIT_MS, marginMs: leaseMarginFor(config.DEADLINE_SAFETY_MS) },
    logger,
    metrics,
  });
  return { worker, safetyMs: config.DEADLINE_SAFETY_MS };
}
