import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createSecretCache } from '../aws/secrets.js';
import { loadConfig } from '../config.js';
import { loadMappingConfig } from '../sources/mapping-config.js';
import { type BackfillConfig, createBackfillDeps } from './create-backfill.js';
import type { BackfillDeps } from './run-backfill.js';
import type { ScopeProgress } from './run-scope.js';

/** Everything the backfill builds once: by the handler at cold start, by the CLI at start-up. */
export interface BackfillRuntime {
  readonly config: BackfillConfig;
  readonly deps: BackfillDeps;
}

/**
 * Builds the backfill from the environment: config, SDK clients, the secret cache and the mapping.
 * @throws {ConfigError} naming every missing or invalid variable
 */
export function createBackfillRuntime(
  env: Record<string, string | undefined>,
  options: { readonly onProgress?: (progress: ScopeProgress) => void } = {},
): BackfillRuntime {
  const config = loadConfig(env, ['PATCH_QUEUE_URL', 'STATE_TABLE_NAME']);
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
    {
      mapping: loadMappingConfig(config.MAPPINGS_FILE),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    },
  );
  return { config, deps };
}
