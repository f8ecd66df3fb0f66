import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { DependencyError } from '../errors.js';
import { deliveryKey } from './state-keys.js';

/**
 * Webhook deliveries already enqueued, kept 7 days in the state table. The FIFO queue only
 * deduplicates for 5 minutes, but Shopify retries for 4 hours and Typeform for 10: this store
 * answers a late redelivery with `duplicate` instead of a second job.
 */
export interface DeliveryStore {
  /**
   * Whether this delivery was already enqueued (and not yet expired).
   * @throws {DependencyError} when DynamoDB fails (callers log and go on)
   */
  hasDelivery(source: string, deliveryId: string): Promise<boolean>;
  /**
   * Records a delivery; call only AFTER its job is on the queue, so a failed enqueue stays retryable.
   * @throws {DependencyError} when DynamoDB fails
   */
  recordDelivery(source: string, deliveryId: string, details: { jobId: string }): Promise<void>;
}

/** How long a delivery id is remembered: longer than any platform's retry window. */
export const DELIVERY_TTL_SECONDS = 7 * 24 * 60 * 60;

type Doc = Pick<DynamoDBDocumentClient, 'send'>;

/** The delivery store on the DynamoDB state table. */
export function createDeliveryStore(options: {
  client: Doc;
  tableName: string;
  /** @default Date.now */
  now?: () => number;
  /** @default DELIVERY_TTL_SECONDS */
  ttlSeconds?: number;
}): DeliveryStore {
  const { client, tableName } = options;
  const now = options.now ?? Date.now;
  const ttlSeconds = options.ttlSeconds ?? DELIVERY_TTL_SECONDS;

  return {
    async hasDelivery(source, deliveryId) {
      let item: Record<string, unknown> | undefined;
      try {
        const out = await client.send(
          new GetCommand({ TableName: tableName, Key: deliveryKey(source, deliveryId) }),
        );
        item = out.Item;
      } catch (error) {
        throw new DependencyError('dynamodb', `delivery check failed (${(error as Error).name ?? 'Error'})`, {
          cause: error,
        });
      }
      if (!item) return false;
      // DynamoDB deletes expired items lazily (up to days later): honour the TTL on read.
      const expiresAt = typeof item.expiresAt === 'number' ? item.expiresAt : Number.POSITIVE_INFINITY;
      return expiresAt > Math.floor(now() / 1000);
    },

    async recordDelivery(source, deliveryId, details) {
      const nowMs = now();
      try {
        await client.send(
          new PutCommand({
            TableName: tableName,
            Item: {
              ...deliveryKey(source, deliveryId),
              jobId: details.jobId,
              recordedAt: new Date(nowMs).toISOString(),
              expiresAt: Math.floor(nowMs / 1000) + ttlSeconds,
            },
          }),
        );
      } catch (error) {
        throw new DependencyError(
          'dynamodb',
          `delivery record failed (${(error as Error).name ?? 'Error'})`,
          {
            cause: error,
          },
        );
      }
    },
  };
}

/** A delivery store in memory, for unit tests and benchmarks. */
export function createMemoryDeliveryStore(): DeliveryStore & { size(): number } {
  const seen = new Map<string, string>();
  return {
    size: () => seen.size,
    async hasDelivery(source, deliveryId) {
      return seen.has(deliveryKey(source, deliveryId).pk);
    },
    async recordDelivery(source, deliveryId, details) {
      seen.set(deliveryKey(source, deliveryId).pk, details.jobId);
    },
  };
}
