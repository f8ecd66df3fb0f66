import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDeliveryStore } from '../aws/deliveries.js';
import { createLinkStore } from '../aws/links.js';
import { createSecretCache } from '../aws/secrets.js';
import { loadConfig } from '../config.js';
import { ConfigError } from '../errors.js';
import { loadMappingConfig } from '../sources/mapping-config.js';
import type { EventBridgeDeps } from './eventbridge.js';
import type { WebhookResponse } from './http.js';
import { createRefreshGate, misconfiguredResponse, type WebhookLogger } from './pipeline.js';
import type { ShopifyDeliveryDeps } from './shopify.js';
import type { TypeformDeliveryDeps } from './typeform.js';

/**
 * Cold-start wiring of the three webhook functions: configuration, mapping and SDK clients are
 * built once per container and reused by every invocation (no per-request clients, no
 * per-request Secrets Manager call on a warm container).
 */

type Env = Record<string, string | undefined>;

// Webhook senders give up quickly (Shopify: 1 s to connect, 5 s in all), so SDK calls must fail
// fast enough to still answer 503 inside that window rather than time out.
const FAST_SDK = {
  maxAttempts: 2,
  // Without throwOnRequestTimeout the handler only logs a warning when requestTimeout passes.
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 1_500, throwOnRequestTimeout: true },
} as const;

function stateStores(tableName: string) {
  const client = DynamoDBDocumentClient.from(new DynamoDBClient(FAST_SDK), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    deliveries: createDeliveryStore({ client, tableName }),
    links: createLinkStore({ client, tableName }),
  };
}

function secretCache(ttlSeconds: number) {
  return createSecretCache({ client: new SecretsManagerClient(FAST_SDK), ttlMs: ttlSeconds * 1_000 });
}

/**
 * The Typeform handler's dependencies.
 * @throws {ConfigError} naming every missing or invalid variable and mapping problem
 */
export function createTypeformDeps(env: Env, logger: WebhookLogger): TypeformDeliveryDeps {
  const config = loadConfig(env, ['TYPEFORM_WEBHOOK_SECRET_ID', 'PATCH_QUEUE_URL']);
  const mapping = loadMappingConfig(config.MAPPINGS_FILE);
  return {
    secrets: secretCache(config.SECRET_CACHE_TTL_SECONDS),
    secretId: config.TYPEFORM_WEBHOOK_SECRET_ID,
    allowSecretRefresh: createRefreshGate(),
    sqs: new SQSClient(FAST_SDK),
    queueUrl: config.PATCH_QUEUE_URL,
    // Dedupe is optional here: without a table, FIFO dedup still collapses repeats for 5 minutes.
    deliveries: config.STATE_TABLE_NAME ? stateStores(config.STATE_TABLE_NAME).deliveries : undefined,
    mapping,
    defaultPhoneRegion: config.DEFAULT_PHONE_REGION,
    logger,
  };
}

/**
 * The HTTPS Shopify handler's dependencies (the state table is required: compliance topics).
 * @throws {ConfigError}
 */
export function createShopifyDeps(env: Env, logger: WebhookLogger): ShopifyDeliveryDeps {
  const config = loadConfig(env, ['SHOPIFY_WEBHOOK_SECRET_ID', 'PATCH_QUEUE_URL', 'STATE_TABLE_NAME']);
  const mapping = loadMappingConfig(config.MAPPINGS_FILE);
  return {
    secrets: secretCache(config.SECRET_CACHE_TTL_SECONDS),
    secretId: config.SHOPIFY_WEBHOOK_SECRET_ID,
    allowSecretRefresh: createRefreshGate(),
    sqs: new SQSClient(FAST_SDK),
    queueUrl: config.PATCH_QUEUE_URL,
    ...stateStores(config.STATE_TABLE_NAME),
    mapping,
    defaultPhoneRegion: config.DEFAULT_PHONE_REGION,
    logger,
  };
}

/**
 * The EventBridge handler's dependencies. No deadline from a sender here, so the SDK keeps its
 * default retries.
 * @throws {ConfigError}
 */
export function createEventBridgeDeps(env: Env, logger: WebhookLogger): EventBridgeDeps {
  const config = loadConfig(env, ['PATCH_QUEUE_URL', 'DEAD_LETTER_QUEUE_URL', 'STATE_TABLE_NAME']);
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return {
    sqs: new SQSClient({}),
    queueUrl: config.PATCH_QUEUE_URL,
    deadLetterQueueUrl: config.DEAD_LETTER_QUEUE_URL,
    deliveries: createDeliveryStore({ client, tableName: config.STATE_TABLE_NAME }),
    links: createLinkStore({ client, tableName: config.STATE_TABLE_NAME }),
    mapping: loadMappingConfig(config.MAPPINGS_FILE),
    defaultPhoneRegion: config.DEFAULT_PHONE_REGION,
    logger,
  };
}

/** The result of cold-start wiring: the deps, or the configuration problem to report. */
export type Prepared<D> =
  | { readonly ok: true; readonly deps: D }
  | { readonly ok: false; readonly error: ConfigError };

/**
 * Runs cold-start wiring without letting a configuration error crash the module: a crash at
 * import would surface as an opaque 500 from API Gateway, while a 503 makes Typeform and
 * Shopify retry (for 10 h and 4 h) until an operator fixes the variables. The problems are
 * logged once here and again on every refused request.
 */
export function prepare<D>(build: () => D, logger: WebhookLogger): Prepared<D> {
  try {
    return { ok: true, deps: build() };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    logger.error('misconfigured: fix these settings', { problems: error.problems });
    return { ok: false, error };
  }
}

/** The answer of a misconfigured HTTP function (logged each time, so the problem stays visible). */
export function answerMisconfigured(error: ConfigError, logger: WebhookLogger): WebhookResponse {
  logger.error('delivery refused: function misconfigured', { problems: error.problems });
  return misconfiguredResponse();
}
