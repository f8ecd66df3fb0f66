import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createCheckpointStore } from '../aws/checkpoints.js';
import type { SecretReader } from '../aws/secrets.js';
import { createSharedPacer } from '../aws/shared-pacer.js';
import { enqueuePatchJobs } from '../aws/sqs.js';
import { type ConfigWith, shopifyAdminBaseUrl } from '../config.js';
import { sha256Hex } from '../hash.js';
import type { PatchJob } from '../jobs/patch-job.js';
import type { MappingConfig } from '../sources/mapping-config.js';
import type { HttpFetch } from './http.js';
import { type Clock, type Pacer, realSleep, type Sleep } from './pacing.js';
import type { BackfillDeps } from './run-backfill.js';
import type { EnqueueJobs, ScopeProgress } from './run-scope.js';

/**
 * Typeform allows 2 requests per second per account: one every 500 ms, plus 100 ms so that a late
 * request (a GC pause or a busy event loop between the pacer letting it through and the bytes
 * leaving, network jitter) never puts three requests inside one second at Typeform's end. With
 * 25 ms, the recorded benchmark of 07:04 UTC saw 3 requests within one second at the stand-in once.
 */
export const TYPEFORM_REQUEST_INTERVAL_MS = 600;

export type BackfillConfig = ConfigWith<'PATCH_QUEUE_URL' | 'STATE_TABLE_NAME'>;

// One pacer per Typeform account and container: every form (and every warm invocation) of the
// account queues on it, so several forms never add up to more than 2 requests/s. Its slots live in
// the state table, so backfills in other containers (a scheduled run and a direct invoke at once)
// queue on the same schedule.
const typeformPacers = new Map<string, Pacer>();

/**
 * The pacer of one Typeform account (keyed by API base and token secret id, never the token),
 * shared across containers through the state table.
 */
export function typeformPacerFor(
  accountKey: string,
  table: { readonly client: Pick<DynamoDBDocumentClient, 'send'>; readonly tableName: string },
  now: Clock,
  sleep: Sleep,
): Pacer {
  const cacheKey = `${table.tableName}|${accountKey}`;
  let pacer = typeformPacers.get(cacheKey);
  if (!pacer) {
    pacer = createSharedPacer({
      ...table,
      name: `typeform#${sha256Hex(accountKey).slice(0, 32)}`,
      intervalMs: TYPEFORM_REQUEST_INTERVAL_MS,
      now,
      sleep,
    });
    typeformPacers.set(cacheKey, pacer);
  }
  return pacer;
}

/**
 * Wires the backfill to AWS and the sources from the parsed environment: the one place both the
 * Lambda handler and `npm run backfill` build their dependencies, so they run the same code.
 */
export function createBackfillDeps(
  config: BackfillConfig,
  clients: {
    readonly sqs: Pick<SQSClient, 'send'>;
    readonly dynamodb: Pick<DynamoDBDocumentClient, 'send'>;
    readonly secrets: SecretReader;
  },
  options: {
    readonly mapping: MappingConfig;
    readonly fetch?: HttpFetch;
    readonly now?: Clock;
    readonly sleep?: Sleep;
    readonly random?: () => number;
    /** Replaces the SQS sink (the benchmark counts jobs instead of sending them). */
    readonly enqueue?: EnqueueJobs;
    readonly overlapMs?: number;
    /** Page sizes below the APIs' maxima (tests only). */
    readonly pageSizes?: { readonly typeform?: number; readonly shopify?: number };
    readonly onProgress?: (progress: ScopeProgress) => void;
  },
): BackfillDeps {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const tokenOf = (secretId: string) => async (opts?: { forceRefresh?: boolean }) =>
    (await clients.secrets.get(secretId, opts)).value;
  const typeformSecret = config.TYPEFORM_API_TOKEN_SECRET_ID;
  const shopifySecret = config.SHOPIFY_ADMIN_TOKEN_SECRET_ID;
  const shop = config.SHOPIFY_SHOP_DOMAIN;
  return {
    mapping: { config: options.mapping, defaultPhoneRegion: config.DEFAULT_PHONE_REGION },
    store: createCheckpointStore({ client: clients.dynamodb, tableName: config.STATE_TABLE_NAME, now }),
    enqueue:
      options.enqueue ??
      ((jobs: readonly PatchJob[], onEnqueued?: (count: number) => void) =>
        enqueuePatchJobs(clients.sqs, config.PATCH_QUEUE_URL, jobs, {
          sleep,
          ...(onEnqueued ? { onEnqueued } : {}),
        })),
    typeform: typeformSecret
      ? {
          baseUrl: config.TYPEFORM_API_BASE_URL,
          getToken: tokenOf(typeformSecret),
          pacer: typeformPacerFor(
            `${config.TYPEFORM_API_BASE_URL}|${typeformSecret}`,
            { client: clients.dynamodb, tableName: config.STATE_TABLE_NAME },
            now,
            sleep,
          ),
          ...(options.pageSizes?.typeform === undefined ? {} : { pageSize: options.pageSizes.typeform }),
        }
      : undefined,
    shopify:
      shop && shopifySecret
        ? {
            baseUrl: shopifyAdminBaseUrl(config),
            shop,
            apiVersion: config.SHOPIFY_API_VERSION,
            getToken: tokenOf(shopifySecret),
            ...(options.pageSizes?.shopify === undefined ? {} : { pageSize: options.pageSizes.shopify }),
          }
        : undefined,
    fetch: options.fetch ?? fetch,
    sleep,
    now,
    random: options.random ?? Math.random,
    ...(options.overlapMs === undefined ? {} : { overlapMs: options.overlapMs }),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
}
