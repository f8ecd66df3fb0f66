import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { computeShopifySignature } from '../../lib/sources/shopify/signature.js';
import { computeTypeformSignature } from '../../lib/sources/typeform/signature.js';
import type { ShopifyEventBridgeEvent } from '../../lib/webhooks/eventbridge.js';

/**
 * Builders of the events the webhook functions receive: API Gateway HTTP API (payload 2.0)
 * events, signed like the platforms sign them, and Shopify EventBridge events. Used by
 * `npm run events`, `npm run send`, tests and benchmarks. Deterministic: the same input gives the
 * same event (ids and times derive from the body), so the generated `events/` files are stable.
 */

export interface HttpEventOptions {
  readonly path: string;
  readonly headers?: Record<string, string>;
  /** Send the body base64-encoded with `isBase64Encoded: true`, as API Gateway does for binary types. */
  readonly base64?: boolean;
  /** @default '2026-11-26T10:00:00.000Z' */
  readonly time?: string;
}

/** An API Gateway HTTP API v2.0 `POST` event carrying `body` exactly as given. */
export function buildHttpApiEvent(body: string, options: HttpEventOptions): APIGatewayProxyEventV2 {
  const time = new Date(options.time ?? '2026-11-26T10:00:00.000Z');
  const requestId = createHash('sha256').update(options.path).update(body).digest('hex').slice(0, 16);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body, 'utf8')),
    host: 'local.execute-api.us-east-1.amazonaws.com',
    'user-agent': 'cleartalk-contact-sync/events',
    ...options.headers,
  };
  return {
    version: '2.0',
    routeKey: `POST ${options.path}`,
    rawPath: options.path,
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'local.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'local',
      http: {
        method: 'POST',
        path: options.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: `POST ${options.path}`,
      stage: '$default',
      time: time.toUTCString(),
      timeEpoch: time.getTime(),
    },
    body: options.base64 ? Buffer.from(body, 'utf8').toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
  };
}

/** A Typeform delivery to `POST /webhooks/typeform`, signed with `secret` over the exact body. */
export function buildTypeformEvent(
  body: string,
  options: { secret: string; headers?: Record<string, string>; base64?: boolean },
): APIGatewayProxyEventV2 {
  return buildHttpApiEvent(body, {
    path: '/webhooks/typeform',
    ...(options.base64 === undefined ? {} : { base64: options.base64 }),
    headers: {
      'typeform-signature': computeTypeformSignature(body, options.secret),
      'user-agent': 'Typeform Webhooks',
      ...options.headers,
    },
  });
}

export interface ShopifyEventOptions {
  readonly secret: string;
  readonly topic: string;
  readonly shop: string;
  /** @default derived from the topic and body */
  readonly webhookId?: string;
  readonly apiVersion?: string;
  readonly headers?: Record<string, string>;
  readonly base64?: boolean;
}

/** The `X-Shopify-*` headers of a delivery (lower-case, as API Gateway passes them). */
export function shopifyHeaders(body: string, options: Omit<ShopifyEventOptions, 'headers' | 'base64'>) {
  const digest = createHash('sha256').update(options.topic).update(body).digest('hex');
  return {
    'x-shopify-hmac-sha256': computeShopifySignature(body, options.secret),
    'x-shopify-topic': options.topic,
    'x-shopify-shop-domain': options.shop,
    'x-shopify-api-version': options.apiVersion ?? '2025-10',
    'x-shopify-webhook-id': options.webhookId ?? uuidFrom(digest),
    'x-shopify-event-id': uuidFrom(digest.slice(8)),
    'x-shopify-triggered-at': '2026-11-26T10:00:00.000000000Z',
  };
}

/** A Shopify delivery to `POST /webhooks/shopify`, signed with `secret` over the exact body. */
export function buildShopifyEvent(body: string, options: ShopifyEventOptions): APIGatewayProxyEventV2 {
  return buildHttpApiEvent(body, {
    path: '/webhooks/shopify',
    ...(options.base64 === undefined ? {} : { base64: options.base64 }),
    headers: { ...shopifyHeaders(body, options), 'user-agent': 'Shopify-Captain-Hook', ...options.headers },
  });
}

/** A Shopify webhook as the partner event bus delivers it (`detail-type: shopifyWebhook`, no HMAC). */
export function buildShopifyEventBridgeEvent(
  payload: unknown,
  options: { topic: string; shop: string; webhookId?: string; apiVersion?: string; appId?: string },
): ShopifyEventBridgeEvent & { version: string; account: string; region: string; resources: string[] } {
  const body = JSON.stringify(payload);
  const headers = shopifyHeaders(body, { ...options, secret: 'unused' });
  const { 'x-shopify-hmac-sha256': _hmac, ...rest } = headers;
  // Shopify writes the metadata keys in their HTTP spelling; readers must not depend on case.
  const metadata = Object.fromEntries(
    Object.entries(rest).map(([key, value]) => [key.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase()), value]),
  );
  return {
    version: '0',
    id: uuidFrom(createHash('sha256').update(body).digest('hex')),
    'detail-type': 'shopifyWebhook',
    source: `aws.partner/shopify.com/${options.appId ?? '1234567'}/cleartalk-contact-sync`,
    account: '000000000000',
    time: '2026-11-26T10:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: { metadata, payload },
  };
}

function uuidFrom(hex: string): string {
  const h = hex.padEnd(32, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
