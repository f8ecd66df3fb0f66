import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { describeIssues, SyncError } from '../lib/errors.js';
import {
  loadMappingConfig,
  type MappingConfig,
  shopifyShopSettings,
  typeformFormSettings,
} from '../lib/sources/mapping-config.js';
import type { MapOutcome } from '../lib/sources/outcome.js';
import { ShopifyGraphqlCustomerSchema, shopifyCustomerFromGraphql } from '../lib/sources/shopify/graphql.js';
import { mapShopifyCustomer, mapShopifyOrder } from '../lib/sources/shopify/mapper.js';
import { SHOPIFY_TOPICS, ShopifyCustomerSchema, ShopifyOrderSchema } from '../lib/sources/shopify/schema.js';
import { mapTypeformResponse } from '../lib/sources/typeform/mapper.js';
import {
  FormResponseSchema,
  TYPEFORM_EVENT_TYPES,
  TypeformWebhookSchema,
} from '../lib/sources/typeform/schema.js';
import { isTruncatedPayload, metadataValue, SHOPIFY_DETAIL_TYPE } from '../lib/webhooks/eventbridge.js';
import { headerValue, readRawBody, type WebhookRequest } from '../lib/webhooks/http.js';

/*
 * `npm run mapping:check -- <payload.json> [--source typeform|shopify] [--topic customers/update]
 *   [--shop x.myshopify.com] [--mappings file.json] [--region US] [--form-id lT4Z3j]`
 * Prints the PatchJob (or the reason there is none) a sample payload would produce with the
 * mapping configuration, so a mapping file can be checked before it is deployed.
 * Accepts a Typeform webhook body, a bare form_response, a Responses API page (with --form-id),
 * a Shopify webhook body (customer or order) and a GraphQL Customer node, and the samples in
 * events/: an HTTP API event (its body; a Shopify event's headers give the topic and the shop) or
 * a Shopify EventBridge event (its detail.payload; detail.metadata gives the topic and the shop).
 * Exit codes: 0 mapped (job or nothing), 1 invalid payload or mapping file, 2 usage.
 */

const USAGE =
  'usage: mapping-check <payload.json> [--source typeform|shopify] [--topic customers/update] ' +
  '[--shop <shop>.myshopify.com] [--mappings <file.json>] [--region US] [--form-id <id>]';

/** What the check made of one record of the payload. */
export type CheckedRecord =
  | { status: 'mapped'; outcome: MapOutcome }
  | { status: 'ignored'; reason: string }
  | { status: 'no-patch'; reason: string };

export interface CheckOptions {
  config: MappingConfig;
  source?: 'typeform' | 'shopify' | undefined;
  topic?: string | undefined;
  shop: string;
  region: string;
  formId?: string | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(
  what: string,
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
): never {
  throw new Error(`not a valid ${what}: ${describeIssues(issues).join('; ')}`);
}

/** A payload file, unwrapped: what an events/ sample carries (options given on the command line win). */
export interface Sample {
  readonly payload: unknown;
  readonly source?: 'typeform' | 'shopify';
  readonly topic?: string;
  readonly shop?: string;
}

function lowerCased(value: string | undefined): string | undefined {
  const trimmed = value?.trim().toLowerCase();
  return trimmed ? trimmed : undefined;
}

/**
 * Unwraps an events/ sample: an API Gateway HTTP API event (payload 2.0: its body, base64-decoded
 * when flagged; the route or the signature header names the source) or a Shopify EventBridge
 * event (`detail.payload`, topic and shop from `detail.metadata`). Anything else is the payload.
 * @throws {Error} when an HTTP API event's body is not JSON (the body itself is not echoed)
 */
export function readSample(file: unknown): Sample {
  if (!isObject(file)) return { payload: file };
  if (file.version === '2.0' && typeof file.body === 'string') {
    const request = file as WebhookRequest & { rawPath?: unknown; routeKey?: unknown };
    let payload: unknown;
    try {
      payload = JSON.parse(readRawBody(request).toString('utf8'));
    } catch {
      throw new Error("the event's body is not JSON");
    }
    const route = `${String(request.rawPath ?? '')} ${String(request.routeKey ?? '')}`;
    const topic = lowerCased(headerValue(request.headers, 'x-shopify-topic'));
    const source =
      /\/webhooks\/typeform\b/.test(route) || headerValue(request.headers, 'typeform-signature') !== undefined
        ? 'typeform'
        : /\/webhooks\/shopify\b/.test(route) || topic !== undefined
          ? 'shopify'
          : undefined;
    const shop = lowerCased(headerValue(request.headers, 'x-shopify-shop-domain'));
    return {
      payload,
      ...(source ? { source } : {}),
      ...(source === 'shopify' && topic ? { topic } : {}),
      ...(source === 'shopify' && shop ? { shop } : {}),
    };
  }
  if (file['detail-type'] === SHOPIFY_DETAIL_TYPE && isObject(file.detail)) {
    const metadata = isObject(file.detail.metadata) ? file.detail.metadata : undefined;
    const topic = lowerCased(metadataValue(metadata, 'X-Shopify-Topic'));
    const shop = lowerCased(metadataValue(metadata, 'X-Shopify-Shop-Domain'));
    return {
      payload: file.detail.payload,
      source: 'shopify',
      ...(topic ? { topic } : {}),
      ...(shop ? { shop } : {}),
    };
  }
  return { payload: file };
}

/** Which source a payload comes from, when --source is not given. */
export function detectSource(payload: unknown): 'typeform' | 'shopify' {
  if (!isObject(payload)) return 'shopify';
  if (
    'form_response' in payload ||
    'form_id' in payload ||
    'answers' in payload ||
    Array.isArray(payload.items)
  ) {
    return 'typeform';
  }
  return 'shopify';
}

/** Which Shopify topic a payload most likely is, when --topic is not given. */
export function detectShopifyTopic(payload: unknown): string {
  if (!isObject(payload)) return SHOPIFY_TOPICS.customerUpdate;
  if ('orders_to_redact' in payload) return SHOPIFY_TOPICS.customersRedact;
  if ('data_request' in payload || 'orders_requested' in payload) return SHOPIFY_TOPICS.customersDataRequest;
  if ('shop_domain' in payload && !('customer' in payload)) return SHOPIFY_TOPICS.shopRedact;
  if ('line_items' in payload || 'total_price' in payload || 'order_number' in payload)
    return SHOPIFY_TOPICS.orderCreate;
  return SHOPIFY_TOPICS.customerUpdate;
}

function checkTypeform(payload: unknown, options: CheckOptions): CheckedRecord[] {
  const context = { config: options.config, defaultPhoneRegion: options.region };
  if (isObject(payload) && 'form_response' in payload) {
    const parsed = TypeformWebhookSchema.safeParse(payload);
    if (!parsed.success) invalid('Typeform webhook body', parsed.error.issues);
    const { event_type: eventType, form_response: response } = parsed.data;
    const settings = typeformFormSettings(options.config, response.form_id);
    if (settings.ignored) return [{ status: 'ignored', reason: `form ${response.form_id} is ignored` }];
    if (eventType === TYPEFORM_EVENT_TYPES.partial && !settings.partialResponses) {
      return [
        { status: 'ignored', reason: `partial responses are not enabled for form ${response.form_id}` },
      ];
    }
    if (eventType !== TYPEFORM_EVENT_TYPES.response && eventType !== TYPEFORM_EVENT_TYPES.partial) {
      return [{ status: 'ignored', reason: `event type ${eventType} is not mapped` }];
    }
    return [{ status: 'mapped', outcome: mapTypeformResponse(response, context) }];
  }
  const items = isObject(payload) && Array.isArray(payload.items) ? payload.items : [payload];
  return items.map((item) => {
    const withForm =
      isObject(item) && options.formId !== undefined ? { form_id: options.formId, ...item } : item;
    const parsed = FormResponseSchema.safeParse(withForm);
    if (!parsed.success)
      invalid('Typeform response (a Responses API item needs --form-id)', parsed.error.issues);
    return { status: 'mapped', outcome: mapTypeformResponse(parsed.data, context) };
  });
}

function checkShopify(payload: unknown, options: CheckOptions): CheckedRecord[] {
  const context = { shop: options.shop, config: options.config, defaultPhoneRegion: options.region };
  if (
    isObject(payload) &&
    typeof payload.id === 'string' &&
    payload.id.startsWith('gid://shopify/Customer/')
  ) {
    const parsed = ShopifyGraphqlCustomerSchema.safeParse(payload);
    if (!parsed.success) invalid('Shopify GraphQL customer', parsed.error.issues);
    const { contactIdMetafield } = shopifyShopSettings(options.config, options.shop);
    const customer = shopifyCustomerFromGraphql(parsed.data, contactIdMetafield);
    return [{ status: 'mapped', outcome: mapShopifyCustomer(customer, context) }];
  }
  const topic = options.topic ?? detectShopifyTopic(payload);
  if (shopifyShopSettings(options.config, options.shop).ignoreTopics.includes(topic)) {
    return [{ status: 'ignored', reason: `topic ${topic} is ignored for ${options.shop}` }];
  }
  if (isObject(payload) && isTruncatedPayload(topic, payload)) {
    return [
      {
        status: 'no-patch',
        reason:
          'the payload was cut down to its id (over 1 MB): the EventBridge function dead-letters it as payload-truncated',
      },
    ];
  }
  switch (topic) {
    case SHOPIFY_TOPICS.customerCreate:
    case SHOPIFY_TOPICS.customerUpdate: {
      const parsed = ShopifyCustomerSchema.safeParse(payload);
      if (!parsed.success) invalid(`${topic} payload`, parsed.error.issues);
      return [{ status: 'mapped', outcome: mapShopifyCustomer(parsed.data, context) }];
    }
    case SHOPIFY_TOPICS.orderCreate:
    case SHOPIFY_TOPICS.orderPaid: {
      const parsed = ShopifyOrderSchema.safeParse(payload);
      if (!parsed.success) invalid(`${topic} payload`, parsed.error.issues);
      return [{ status: 'mapped', outcome: mapShopifyOrder(parsed.data, context) }];
    }
    case SHOPIFY_TOPICS.customerDelete:
    case SHOPIFY_TOPICS.customersRedact:
    case SHOPIFY_TOPICS.shopRedact:
      return [
        {
          status: 'no-patch',
          reason: `${topic} removes links in the state table; it never patches a contact`,
        },
      ];
    case SHOPIFY_TOPICS.customersDataRequest:
      return [{ status: 'no-patch', reason: `${topic} is answered 200 and logged; we hold only ids` }];
    default:
      return [{ status: 'ignored', reason: `topic ${topic} is not mapped` }];
  }
}

/**
 * Maps a sample payload with the given configuration.
 * @throws {Error} when the payload is not a valid payload of its source.
 */
export function checkMapping(payload: unknown, options: CheckOptions): CheckedRecord[] {
  const source = options.source ?? detectSource(payload);
  return source === 'typeform' ? checkTypeform(payload, options) : checkShopify(payload, options);
}

function main(argv: string[]): number {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        source: { type: 'string' },
        topic: { type: 'string' },
        shop: { type: 'string' },
        mappings: { type: 'string' },
        region: { type: 'string' },
        'form-id': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const file = positionals[0];
  if (values.help === true || file === undefined || positionals.length > 1) {
    process.stderr.write(`${USAGE}\n`);
    return values.help === true ? 0 : 2;
  }
  const source = values.source as string | undefined;
  if (source !== undefined && source !== 'typeform' && source !== 'shopify') {
    process.stderr.write(`--source must be typeform or shopify\n${USAGE}\n`);
    return 2;
  }
  try {
    const config = loadMappingConfig((values.mappings as string | undefined) || process.env.MAPPINGS_FILE);
    const sample = readSample(JSON.parse(readFileSync(file as string, 'utf8')));
    const records = checkMapping(sample.payload, {
      config,
      source: source ?? sample.source,
      topic: (values.topic as string | undefined) ?? sample.topic,
      shop:
        (values.shop as string | undefined) ||
        sample.shop ||
        process.env.SHOPIFY_SHOP_DOMAIN ||
        'example.myshopify.com',
      region: (
        (values.region as string | undefined) ??
        process.env.DEFAULT_PHONE_REGION ??
        'US'
      ).toUpperCase(),
      formId: values['form-id'] as string | undefined,
    });
    process.stdout.write(`${JSON.stringify(records.length === 1 ? records[0] : records, null, 2)}\n`);
    return 0;
  } catch (error) {
    const problems = error instanceof SyncError && 'problems' in error ? (error.problems as string[]) : [];
    process.stderr.write(`mapping-check: ${(error as Error).message}\n`);
    for (const problem of problems) process.stderr.write(`  - ${problem}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
