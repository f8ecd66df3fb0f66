import type { SQSClient } from '@aws-sdk/client-sqs';
import { sendDeadLetter } from '../aws/sqs.js';
import { ValidationError } from '../errors.js';
import { deduplicationId } from '../jobs/fifo-keys.js';
import {
  isHandledShopifyTopic,
  processShopifyWebhook,
  SHOPIFY_TOPIC_ACTIONS,
  type ShopifyProcessDeps,
} from './shopify.js';

/** The EventBridge event Shopify's partner event source emits (PLATFORMS.md). */
export interface ShopifyEventBridgeEvent {
  readonly id?: string;
  readonly 'detail-type'?: string;
  readonly source?: string;
  readonly time?: string;
  readonly detail?: {
    readonly metadata?: Readonly<Record<string, unknown>> | null;
    readonly payload?: unknown;
  } | null;
}

export interface EventBridgeDeps extends ShopifyProcessDeps {
  readonly deadLetterQueueUrl: string;
  readonly dlq?: Pick<SQSClient, 'send'>;
}

export const SHOPIFY_DETAIL_TYPE = 'shopifyWebhook';

/**
 * Reads a Shopify header out of `detail.metadata`: keys compared case-insensitively, with or
 * without the `X-` prefix (`X-Shopify-Topic`, `x-shopify-topic`, `Shopify-Topic` all match).
 */
export function metadataValue(metadata: Readonly<Record<string, unknown>> | null | undefined, name: string) {
  const wanted = stripX(name.toLowerCase());
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (stripX(key.toLowerCase()) === wanted) return typeof value === 'string' ? value.trim() : undefined;
  }
  return undefined;
}

function stripX(key: string): string {
  return key.startsWith('x-') ? key.slice(2) : key;
}

/**
 * Whether Shopify cut the payload down to its id (it does for events over 1 MB). `customers/delete`
 * legitimately carries only `id`.
 */
export function isTruncatedPayload(topic: string, payload: Record<string, unknown>): boolean {
  const keys = Object.keys(payload);
  return topic !== 'customers/delete' && keys.length === 1 && keys[0] === 'id';
}

/**
 * One Shopify webhook delivered through EventBridge: the same routing and mappers as HTTPS, no
 * HMAC (EventBridge authenticates the partner source). Payloads that cannot be processed
 * (truncated, wrong shape) go to the dead-letter queue with a reason, since retrying cannot fix them.
 * @throws {DependencyError} when the queue or the state table cannot be reached (EventBridge retries)
 */
export async function handleShopifyEventBridgeEvent(
  event: ShopifyEventBridgeEvent,
  deps: EventBridgeDeps,
): Promise<void> {
  const { logger } = deps;
  const metadata = event.detail?.metadata;
  const topic = metadataValue(metadata, 'X-Shopify-Topic')?.toLowerCase();
  const shop = metadataValue(metadata, 'X-Shopify-Shop-Domain')?.toLowerCase() || undefined;
  const webhookId = metadataValue(metadata, 'X-Shopify-Webhook-Id') || undefined;
  const context = { source: 'shopify-eventbridge', eventId: event.id, topic, shop, deliveryId: webhookId };

  if (event['detail-type'] !== SHOPIFY_DETAIL_TYPE) {
    logger.warn('event ignored: not a shopifyWebhook', { ...context, detailType: event['detail-type'] });
    return;
  }
  const payload = event.detail?.payload;
  const deadLetter = (errorReason: string, errorMessage: string) =>
    sendDeadLetter(
      deps.dlq ?? deps.sqs,
      deps.deadLetterQueueUrl,
      {
        body: JSON.stringify(event),
        groupId: dlqGroup(shop, topic, payload),
        deduplicationId: deduplicationId(`eventbridge:${webhookId ?? event.id ?? JSON.stringify(event)}`),
      },
      { errorReason, errorMessage },
    ).then(() => logger.warn('event dead-lettered', { ...context, errorReason, errorMessage }));

  if (!topic) return deadLetter('invalid-payload', 'detail.metadata has no X-Shopify-Topic');
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    return deadLetter('invalid-payload', 'detail.payload is not a JSON object');
  }
  const body = payload as Record<string, unknown>;
  // Truncation matters only for topics we act on; others are ignored whole anyway.
  if (isHandledShopifyTopic(topic) && isTruncatedPayload(topic, body)) {
    return deadLetter('payload-truncated', truncatedMessage(topic));
  }
  try {
    const result = await processShopifyWebhook({ topic, shop, webhookId, payload: body }, deps);
    logger.info('event handled', { ...context, ...result });
  } catch (error) {
    if (error instanceof ValidationError) {
      return deadLetter('invalid-payload', [error.message, ...error.issues].join('; '));
    }
    throw error;
  }
}

/**
 * What an operator reads on a truncated payload's dead letter. The Shopify backfill reads
 * customers, so it recovers a customer change, but not an order's facts (`shopify_last_order_*`).
 */
function truncatedMessage(topic: string): string {
  const cut = `Shopify cut the ${topic} payload to its id (over 1 MB)`;
  if (topic.startsWith('orders/')) {
    return `${cut}; the backfill reads customers only, so the order's fields come back only if the order is sent again (npm run send with the full payload)`;
  }
  // A compliance topic (redact, data request): the backfill only writes contacts, it carries none out.
  if (!(SHOPIFY_TOPIC_ACTIONS.customerJob as readonly string[]).includes(topic)) {
    return `${cut}; no backfill carries out ${topic}, so it is not recovered automatically`;
  }
  return `${cut}; the next Shopify backfill picks the customer change up`;
}

/** FIFO group of a dead letter: the entity, so dead letters of one customer stay in order. */
function dlqGroup(shop: string | undefined, topic: string | undefined, payload: unknown): string {
  const id = (payload as { id?: unknown } | null)?.id;
  const kind = topic?.startsWith('orders/') ? 'order' : 'customer';
  const group = `shopify:${shop ?? 'unknown-shop'}:${kind}:${typeof id === 'number' || typeof id === 'string' ? id : 'unknown'}`;
  return /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/.test(group)
    ? group
    : deduplicationId(group);
}
