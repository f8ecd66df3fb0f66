import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { LOCAL_DEFAULTS } from '../../tools/local/defaults.js';
import {
  buildShopifyEvent,
  buildShopifyEventBridgeEvent,
  buildTypeformEvent,
} from '../../tools/local/webhook-events.js';

/**
 * Payload and event builders for webhook tests. Every builder returns a fresh object and takes
 * overrides, so tests never mutate shared fixtures.
 */

export const TEST_SHOP = 'test-shop.myshopify.com';
export const TYPEFORM_SECRET = LOCAL_DEFAULTS.typeformSecret;
export const SHOPIFY_SECRET = LOCAL_DEFAULTS.shopifySecret;

type Json = Record<string, unknown>;

/** A Typeform `form_response` webhook body with an email, a phone, names and a few typed answers. */
export function typeformPayload(overrides: { form_response?: Json } & Json = {}): Json {
  const { form_response: responseOverrides, ...top } = overrides;
  return {
    event_id: '01HTESTEVENT0000000000000',
    event_type: 'form_response',
    form_response: {
      form_id: 'lT4Z3j',
      token: 'a3a12ec67a1365927098a606107fac15',
      landed_at: '2026-11-26T09:58:00Z',
      submitted_at: '2026-11-26T10:00:00Z',
      hidden: {},
      definition: { id: 'lT4Z3j', title: 'Signup', fields: [] },
      answers: [
        { type: 'text', text: 'Ada', field: { id: 'f1', type: 'short_text', ref: 'first_name' } },
        { type: 'text', text: 'Lovelace', field: { id: 'f2', type: 'short_text', ref: 'last_name' } },
        { type: 'email', email: 'Ada@Example.com ', field: { id: 'f3', type: 'email', ref: 'email' } },
        {
          type: 'phone_number',
          phone_number: '+12025550143',
          field: { id: 'f4', type: 'phone_number', ref: 'phone' },
        },
        { type: 'number', number: 3, field: { id: 'f5', type: 'number', ref: 'team_size' } },
        {
          type: 'choice',
          choice: { label: 'Pro' },
          field: { id: 'f6', type: 'multiple_choice', ref: 'plan' },
        },
      ],
      ...responseOverrides,
    },
    ...top,
  };
}

/** A Shopify customer (`customers/create|update`) payload. */
export function shopifyCustomerPayload(overrides: Json = {}): Json {
  return {
    id: 7064055069303,
    // Kept consistent with an overridden id, as Shopify does.
    admin_graphql_api_id: `gid://shopify/Customer/${String(overrides.id ?? 7064055069303)}`,
    created_at: '2026-11-20T10:00:00-05:00',
    updated_at: '2026-11-26T10:00:00-05:00',
    first_name: 'Bob',
    last_name: 'Norman',
    email: 'bob@example.com',
    phone: '+16135550135',
    note: null,
    state: 'enabled',
    verified_email: true,
    currency: 'USD',
    addresses: [],
    default_address: {
      city: 'Ottawa',
      province: 'Ontario',
      country: 'Canada',
      country_code: 'CA',
      zip: 'K2P 1L4',
    },
    ...overrides,
  };
}

/** A Shopify order (`orders/create|paid`) payload with a customer; pass `customer: undefined` for a guest. */
export function shopifyOrderPayload(overrides: Json = {}): Json {
  const order: Json = {
    id: 5820982911946,
    name: '#1001',
    email: 'bob@example.com',
    contact_email: 'bob@example.com',
    phone: null,
    total_price: '199.00',
    currency: 'USD',
    created_at: '2026-11-26T10:00:00-05:00',
    processed_at: '2026-11-26T10:00:00-05:00',
    updated_at: '2026-11-26T10:05:00-05:00',
    billing_address: {
      first_name: 'Bob',
      last_name: 'Norman',
      city: 'Ottawa',
      country: 'Canada',
      phone: '+16135550135',
    },
    customer: shopifyCustomerPayload(),
    ...overrides,
  };
  if ('customer' in overrides && overrides.customer === undefined) delete order.customer;
  return order;
}

/** A signed Typeform HTTP API event; `body` overrides the serialised payload byte for byte. */
export function typeformEvent(
  options: {
    payload?: Json;
    body?: string;
    secret?: string;
    headers?: Record<string, string>;
    base64?: boolean;
  } = {},
): APIGatewayProxyEventV2 {
  const body = options.body ?? JSON.stringify(options.payload ?? typeformPayload());
  return buildTypeformEvent(body, {
    secret: options.secret ?? TYPEFORM_SECRET,
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.base64 === undefined ? {} : { base64: options.base64 }),
  });
}

/** A signed Shopify HTTP API event for `topic` (default `customers/update`). */
export function shopifyEvent(
  options: {
    payload?: Json;
    body?: string;
    topic?: string;
    shop?: string;
    webhookId?: string;
    secret?: string;
    headers?: Record<string, string>;
    base64?: boolean;
  } = {},
): APIGatewayProxyEventV2 {
  const body = options.body ?? JSON.stringify(options.payload ?? shopifyCustomerPayload());
  return buildShopifyEvent(body, {
    secret: options.secret ?? SHOPIFY_SECRET,
    topic: options.topic ?? 'customers/update',
    shop: options.shop ?? TEST_SHOP,
    ...(options.webhookId ? { webhookId: options.webhookId } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.base64 === undefined ? {} : { base64: options.base64 }),
  });
}

/** A Shopify EventBridge event for `topic` (default `customers/update`). */
export function eventBridgeEvent(
  options: { payload?: unknown; topic?: string; shop?: string; webhookId?: string } = {},
) {
  return buildShopifyEventBridgeEvent(options.payload ?? shopifyCustomerPayload(), {
    topic: options.topic ?? 'customers/update',
    shop: options.shop ?? TEST_SHOP,
    ...(options.webhookId ? { webhookId: options.webhookId } : {}),
  });
}

/** Drops a header (any case) from an event, returning a new event. */
export function withoutHeader(event: APIGatewayProxyEventV2, name: string): APIGatewayProxyEventV2 {
  const headers = Object.fromEntries(
    Object.entries(event.headers).filter(([key]) => key.toLowerCase() !== name.toLowerCase()),
  );
  return { ...event, headers };
}

/** Parses a handler's JSON answer. */
export function answerBody(response: { body?: string | undefined }): Record<string, unknown> {
  return JSON.parse(response.body ?? '{}') as Record<string, unknown>;
}
