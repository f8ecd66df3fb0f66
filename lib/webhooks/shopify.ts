import type { LinkStore } from '../aws/links.js';
import { compileWhenHot } from '../compiled-schema.js';
import { describeIssues, ValidationError } from '../errors.js';
import { lookupShopifyShopSettings, type MappingConfig } from '../sources/mapping-config.js';
import { normaliseEmail, normalisePhone } from '../sources/normalise.js';
import { mapShopifyCustomer, mapShopifyOrder } from '../sources/shopify/mapper.js';
import {
  parseShopifyJson,
  SHOPIFY_TOPICS,
  ShopifyCustomerDeleteSchema,
  ShopifyCustomerSchema,
  ShopifyCustomersRedactSchema,
  ShopifyDataRequestSchema,
  ShopifyOrderFieldsSchema,
  ShopifyShopRedactSchema,
} from '../sources/shopify/schema.js';
import { SHOPIFY_SIGNATURE_HEADER, verifyShopifySignature } from '../sources/shopify/signature.js';
import { headerValue, type WebhookRequest, type WebhookResponse } from './http.js';
import {
  type DeliveryResult,
  type EnqueueDeps,
  enqueueOutcome,
  handleSignedDelivery,
  type SignedDeliveryDeps,
} from './pipeline.js';

/** A Shopify webhook once its origin is trusted: from HTTPS (after the HMAC) or EventBridge. */
export interface ShopifyDelivery {
  readonly topic: string;
  readonly shop: string | undefined;
  /** `X-Shopify-Webhook-Id`: one per delivery, the dedupe key. */
  readonly webhookId: string | undefined;
  readonly payload: Record<string, unknown>;
}

/** What the topic router needs, whichever way the webhook arrived. */
export interface ShopifyProcessDeps extends EnqueueDeps {
  readonly mapping: MappingConfig;
  readonly defaultPhoneRegion: string;
  /** Links in the state table, removed by the compliance topics. */
  readonly links: Pick<LinkStore, 'removeCustomerLinks' | 'removeShopLinks'>;
}

/** Everything an HTTPS Shopify delivery needs, built once per container (handlers/shopify-webhook.ts). */
export interface ShopifyDeliveryDeps extends ShopifyProcessDeps, SignedDeliveryDeps {}

/** Shopify's topics and what we do with each (issue 3 §4); every other topic is ignored. */
export const SHOPIFY_TOPIC_ACTIONS = {
  customerJob: ['customers/create', 'customers/update'],
  orderJob: ['orders/create', 'orders/paid'],
  compliance: ['customers/delete', 'customers/redact', 'shop/redact', 'customers/data_request'],
} as const;

const HANDLED_TOPICS: ReadonlySet<string> = new Set(Object.values(SHOPIFY_TOPIC_ACTIONS).flat());

/** Whether a topic is one the product acts on (all others are answered `ignored`). */
export function isHandledShopifyTopic(topic: string): boolean {
  return HANDLED_TOPICS.has(topic);
}

const SOURCE = 'shopify';
const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]*\.myshopify\.com$/;

// The two payloads that arrive with every customer change and every order: compiled validators
// (about half the schema's cost on valid bodies; invalid ones take zod's runtime parser, so the
// issues are unchanged). The rare compliance topics keep the runtime parser.
const orderSchema = compileWhenHot(ShopifyOrderFieldsSchema);
const customerSchema = compileWhenHot(ShopifyCustomerSchema);

// The compliance payloads carry bare 64-bit ids and no gid to recover a rounded one from (the
// customer and order topics do, and their schemas prefer it): parsed keeping large ids exact.
const EXACT_ID_TOPICS: ReadonlySet<string> = new Set([
  SHOPIFY_TOPICS.customersRedact,
  SHOPIFY_TOPICS.customersDataRequest,
  SHOPIFY_TOPICS.shopRedact,
]);

/** Shopify header names (compared case-insensitively). */
export const SHOPIFY_HEADERS = {
  topic: 'x-shopify-topic',
  shop: 'x-shopify-shop-domain',
  webhookId: 'x-shopify-webhook-id',
} as const;

/**
 * One HTTPS Shopify delivery: size check, HMAC over the raw bytes, topic routing, map, enqueue
 * or remove links, answer. Never throws: every outcome is an HTTP answer.
 */
export async function handleShopifyDelivery(
  request: WebhookRequest,
  deps: ShopifyDeliveryDeps,
): Promise<WebhookResponse> {
  const topic = headerValue(request.headers, SHOPIFY_HEADERS.topic)?.trim().toLowerCase();
  const webhookId = headerValue(request.headers, SHOPIFY_HEADERS.webhookId)?.trim() || undefined;
  const shop = headerValue(request.headers, SHOPIFY_HEADERS.shop)?.trim().toLowerCase() || undefined;
  const context: Record<string, unknown> = { source: SOURCE, topic, shop, deliveryId: webhookId };
  return handleSignedDelivery(
    request,
    deps,
    context,
    { header: SHOPIFY_SIGNATURE_HEADER, label: 'X-Shopify-Hmac-Sha256', verify: verifyShopifySignature },
    async (payload) => {
      if (!topic) {
        const message = 'The X-Shopify-Topic header is missing; Shopify sends it with every webhook.';
        throw new ValidationError(message, { code: 'missing-topic' });
      }
      return processShopifyWebhook({ topic, shop, webhookId, payload }, deps);
    },
    topic !== undefined && EXACT_ID_TOPICS.has(topic) ? parseShopifyJson : JSON.parse,
  );
}

/**
 * Routes a trusted Shopify webhook by topic: customers and orders become jobs, the compliance
 * topics remove links (no PATCH), anything else is ignored.
 * @throws {ValidationError} when the shop domain is missing or the payload does not fit its topic
 * @throws {DependencyError} when the queue or the state table cannot be reached
 */
export async function processShopifyWebhook(
  delivery: ShopifyDelivery,
  deps: ShopifyProcessDeps,
): Promise<DeliveryResult> {
  const topic = delivery.topic.trim().toLowerCase();
  if (!isHandledShopifyTopic(topic)) return { status: 'ignored', reason: `topic ${topic} is not handled` };

  if (topic === 'customers/data_request') {
    // We hold only ids and hashes (no contact values), so there is nothing to hand over; the
    // log line is the record the merchant's request was received.
    const request = parsePayload(ShopifyDataRequestSchema, delivery.payload, topic);
    deps.logger.info('customer data request received; only ids are held', {
      topic,
      shop: delivery.shop ?? shopFromPayload(delivery.payload),
      shopId: request.shop_id,
      customerId: request.customer.id,
      dataRequestId: request.data_request?.id,
    });
    return { status: 'accepted', reason: 'only ids are held; no contact data to report' };
  }

  const shop = requireShop(delivery);
  const context = { topic, shop, deliveryId: delivery.webhookId };
  if (lookupShopifyShopSettings(deps.mapping, shop).ignoreTopics.includes(topic)) {
    return {
      status: 'ignored',
      reason: `topic ${topic} is ignored for ${shop} by the mapping configuration`,
    };
  }

  switch (topic) {
    case 'customers/delete': {
      const { id } = parsePayload(ShopifyCustomerDeleteSchema, delivery.payload, topic);
      const removedLinks = await deps.links.removeCustomerLinks(shop, String(id));
      deps.logger.info('customer links removed', { ...context, customerId: String(id), removedLinks });
      return { status: 'accepted', removedLinks };
    }
    case 'customers/redact': {
      const redact = parsePayload(ShopifyCustomersRedactSchema, delivery.payload, topic);
      const email = normaliseEmail(redact.customer.email);
      const phone = normalisePhone(redact.customer.phone, deps.defaultPhoneRegion);
      const removedLinks = await deps.links.removeCustomerLinks(shop, String(redact.customer.id), {
        ...(email ? { email } : {}),
        ...(phone ? { phone } : {}),
      });
      deps.logger.info('customer redacted', {
        ...context,
        customerId: String(redact.customer.id),
        removedLinks,
      });
      return { status: 'accepted', removedLinks };
    }
    case 'shop/redact': {
      parsePayload(ShopifyShopRedactSchema, delivery.payload, topic);
      const removedLinks = await deps.links.removeShopLinks(shop);
      deps.logger.info('shop redacted', { ...context, removedLinks });
      return { status: 'accepted', removedLinks };
    }
    case 'orders/create':
    case 'orders/paid': {
      // Same checks as ShopifyOrderSchema; drops the keys the mapper never reads instead of copying them.
      const order = parsePayload(orderSchema, delivery.payload, topic);
      const outcome = mapShopifyOrder(order, {
        shop,
        config: deps.mapping,
        defaultPhoneRegion: deps.defaultPhoneRegion,
      });
      return enqueueOutcome(outcome, { source: SOURCE, deliveryId: delivery.webhookId }, deps);
    }
    default: {
      const customer = parsePayload(customerSchema, delivery.payload, topic);
      const outcome = mapShopifyCustomer(customer, {
        shop,
        config: deps.mapping,
        defaultPhoneRegion: deps.defaultPhoneRegion,
      });
      return enqueueOutcome(outcome, { source: SOURCE, deliveryId: delivery.webhookId }, deps);
    }
  }
}

interface SafeParser<T> {
  safeParse(data: unknown):
    | { success: true; data: T }
    | {
        success: false;
        error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> };
      };
}

function parsePayload<T>(schema: SafeParser<T>, payload: unknown, topic: string): T {
  const parsed = schema.safeParse(payload);
  if (parsed.success) return parsed.data;
  throw new ValidationError(`The body is not a Shopify ${topic} payload (see issues for the fields).`, {
    code: 'invalid-payload',
    issues: describeIssues(parsed.error.issues),
  });
}

function requireShop(delivery: ShopifyDelivery): string {
  const shop = delivery.shop ?? shopFromPayload(delivery.payload);
  if (!shop || !SHOP_DOMAIN.test(shop)) {
    throw new ValidationError(
      'X-Shopify-Shop-Domain is missing or not <shop>.myshopify.com; it names the shop in every job and link.',
      { code: 'invalid-shop-domain' },
    );
  }
  return shop;
}

/** The compliance payloads carry the shop themselves; the header wins when both are present. */
function shopFromPayload(payload: Record<string, unknown>): string | undefined {
  return typeof payload.shop_domain === 'string' ? payload.shop_domain.trim().toLowerCase() : undefined;
}
