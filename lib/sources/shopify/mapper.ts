import { isSupportedCountry } from 'libphonenumber-js/min';
import { isContactId } from '../../cleartalk/contact-fields.js';
import {
  lookupShopifyShopSettings,
  type MappingConfig,
  type ShopifyShopSettings,
} from '../mapping-config.js';
import { normaliseDate, normaliseEmail, normaliseName, normalisePhone, toUtcInstant } from '../normalise.js';
import type { MapOutcome } from '../outcome.js';
import { applyLabels, finishJob, type JobDraft, nothing } from '../patch-builder.js';
import type { ShopifyAddress, ShopifyCustomer, ShopifyOrder, ShopifyOrderCustomer } from './schema.js';

/** What the Shopify mappers need besides the payload. */
export interface ShopifyMapContext {
  /** The shop's `<shop>.myshopify.com` domain (X-Shopify-Shop-Domain). */
  shop: string;
  config: MappingConfig;
  /** Region for phone numbers written without a country code when the address gives none. */
  defaultPhoneRegion: string;
  /** The PatchJob source. @default 'shopify' (the backfill passes 'backfill:shopify') */
  source?: string;
}

/** The customField keys the Shopify mappers write (documented in mappings/README.md). */
export const SHOPIFY_CUSTOM_FIELDS = {
  customerId: 'shopify_customer_id',
  customerState: 'shopify_customer_state',
  city: 'shopify_city',
  country: 'shopify_country',
  countryCode: 'shopify_country_code',
  lastOrderId: 'shopify_last_order_id',
  lastOrderName: 'shopify_last_order_name',
  lastOrderTotal: 'shopify_last_order_total',
  lastOrderDate: 'shopify_last_order_date',
} as const;

/** The `match.externalKey` of a Shopify customer. */
export function shopifyCustomerExternalKey(shop: string, customerId: string): string {
  return `shopify:${shop}:customer:${customerId}`;
}

type ShopifyDraft = JobDraft & { shop: string };

type Candidate = readonly [field: string, raw: string | null | undefined];

/**
 * The first candidate that normalises. When none does, the non-empty ones are reported as
 * dropped (by name). Shopify sends `null` for a missing phone: that is silence, not an error.
 */
function pickFirst(
  draft: JobDraft,
  candidates: readonly Candidate[],
  normalise: (raw: string) => string | undefined,
  reason: string,
): string | undefined {
  const rejected: string[] = [];
  for (const [field, raw] of candidates) {
    if (raw === null || raw === undefined || raw.trim() === '') continue;
    const value = normalise(raw);
    if (value !== undefined) return value;
    rejected.push(field);
  }
  for (const field of rejected) draft.dropped.push({ field, reason });
  return undefined;
}

function phoneRegion(
  context: ShopifyMapContext,
  ...addresses: Array<ShopifyAddress | null | undefined>
): string {
  for (const address of addresses) {
    const code = address?.country_code?.trim().toUpperCase();
    if (code && isSupportedCountry(code)) return code;
  }
  return context.defaultPhoneRegion;
}

function setText(draft: JobDraft, key: string, raw: string | null | undefined): void {
  const value = raw?.trim();
  if (value) draft.customField[key] = value;
}

/** Names, customer facts and the metafield contact id of a customer (webhook, order or GraphQL). */
function collectCustomer(
  draft: ShopifyDraft,
  customer: ShopifyCustomer | ShopifyOrderCustomer,
  settings: ShopifyShopSettings,
): void {
  const firstName = normaliseName(customer.first_name);
  const lastName = normaliseName(customer.last_name);
  if (firstName !== undefined) draft.fields.firstName = firstName;
  if (lastName !== undefined) draft.fields.lastName = lastName;

  draft.customField[SHOPIFY_CUSTOM_FIELDS.customerId] = customer.id;
  const state = customer.state?.trim().toLowerCase();
  if (state) draft.customField[SHOPIFY_CUSTOM_FIELDS.customerState] = state;
  const address = customer.default_address;
  setText(draft, SHOPIFY_CUSTOM_FIELDS.city, address?.city);
  setText(draft, SHOPIFY_CUSTOM_FIELDS.country, address?.country);
  const countryCode = address?.country_code?.trim().toUpperCase();
  if (countryCode) draft.customField[SHOPIFY_CUSTOM_FIELDS.countryCode] = countryCode;

  const { namespace, key } = settings.contactIdMetafield;
  const metafield = customer.metafields?.find((m) => m.namespace === namespace && m.key === key);
  if (metafield && metafield.value !== null && metafield.value !== undefined && metafield.value !== '') {
    const id = String(metafield.value).trim();
    if (isContactId(id)) draft.contactId = id;
    else
      draft.dropped.push({
        field: `metafields.${namespace}.${key}`,
        reason: 'not a positive integer contact id',
      });
  }
  draft.match.externalKey = shopifyCustomerExternalKey(draft.shop, customer.id);
}

function startDraft(
  context: ShopifyMapContext,
  kind: 'customer' | 'order',
  id: string,
  updatedAt: string,
): ShopifyDraft | string {
  const occurredAt = toUtcInstant(updatedAt);
  if (occurredAt === undefined) return 'updated_at is not a timestamp with an offset';
  return {
    shop: context.shop,
    // UTC normalisation makes a webhook's local updated_at and GraphQL's UTC updatedAt one jobId.
    jobId: `shopify:${context.shop}:${kind}:${id}:${occurredAt}`,
    source: context.source || 'shopify',
    occurredAt,
    match: {},
    fields: {},
    customField: {},
    dropped: [],
  };
}

function finishShopify(draft: ShopifyDraft, settings: ShopifyShopSettings): MapOutcome {
  draft.match.email = draft.fields.email;
  draft.match.phone = draft.fields.phone;
  applyLabels(draft, settings);
  const { shop: _shop, ...job } = draft;
  return finishJob(job, 'nothing to update');
}

/**
 * Maps a `customers/create|update` payload (or a converted GraphQL customer) to a PatchJob:
 * jobId `shopify:<shop>:customer:<id>:<updated_at in UTC>`, match by externalKey, email and
 * phone, contactId from the configured metafield. Pure; never throws on schema-valid input.
 */
export function mapShopifyCustomer(customer: ShopifyCustomer, context: ShopifyMapContext): MapOutcome {
  const settings = lookupShopifyShopSettings(context.config, context.shop);
  const draft = startDraft(context, 'customer', customer.id, customer.updated_at);
  if (typeof draft === 'string') return nothing(draft, []);
  const region = phoneRegion(context, customer.default_address);

  collectCustomer(draft, customer, settings);
  const email = pickFirst(draft, [['email', customer.email]], normaliseEmail, 'not a valid email address');
  if (email !== undefined) draft.fields.email = email;
  const phone = pickFirst(
    draft,
    [['phone', customer.phone]],
    (raw) => normalisePhone(raw, region),
    'not a valid phone number',
  );
  if (phone !== undefined) draft.fields.phone = phone;
  return finishShopify(draft, settings);
}

/**
 * Maps an order (`orders/create`, `orders/paid`) to a PatchJob: the customer's contact data
 * plus last-order facts in customField. A guest order (no `customer`) is matched by the order's
 * email / contact_email / phone / billing address phone, without an externalKey.
 * jobId `shopify:<shop>:order:<id>:<updated_at in UTC>`. Pure; never throws on schema-valid input.
 */
export function mapShopifyOrder(order: ShopifyOrder, context: ShopifyMapContext): MapOutcome {
  const settings = lookupShopifyShopSettings(context.config, context.shop);
  const draft = startDraft(context, 'order', order.id, order.updated_at);
  if (typeof draft === 'string') return nothing(draft, []);
  const customer = order.customer ?? undefined;
  const billing = order.billing_address;
  const region = phoneRegion(context, customer?.default_address, billing, order.shipping_address);

  if (customer) collectCustomer(draft, customer, settings);
  else {
    // A guest's billing name is the best name the order has (the shipping name may be a gift recipient).
    const firstName = normaliseName(billing?.first_name);
    const lastName = normaliseName(billing?.last_name);
    if (firstName !== undefined) draft.fields.firstName = firstName;
    if (lastName !== undefined) draft.fields.lastName = lastName;
  }
  const email = pickFirst(
    draft,
    [
      ['customer.email', customer?.email],
      ['email', order.email],
      ['contact_email', order.contact_email],
    ],
    normaliseEmail,
    'not a valid email address',
  );
  if (email !== undefined) draft.fields.email = email;
  const phone = pickFirst(
    draft,
    [
      ['customer.phone', customer?.phone],
      ['phone', order.phone],
      ['billing_address.phone', billing?.phone],
    ],
    (raw) => normalisePhone(raw, region),
    'not a valid phone number',
  );
  if (phone !== undefined) draft.fields.phone = phone;

  draft.customField[SHOPIFY_CUSTOM_FIELDS.lastOrderId] = order.id;
  setText(draft, SHOPIFY_CUSTOM_FIELDS.lastOrderName, order.name);
  if (
    order.total_price !== null &&
    order.total_price !== undefined &&
    String(order.total_price).trim() !== ''
  ) {
    const currency = order.currency?.trim();
    draft.customField[SHOPIFY_CUSTOM_FIELDS.lastOrderTotal] = currency
      ? `${String(order.total_price).trim()} ${currency}`
      : String(order.total_price).trim();
  }
  // The order date as the shop wrote it (its own time zone), like every other date we store.
  const orderDate = normaliseDate(order.processed_at ?? order.created_at ?? order.updated_at);
  if (orderDate !== undefined) draft.customField[SHOPIFY_CUSTOM_FIELDS.lastOrderDate] = orderDate;
  return finishShopify(draft, settings);
}
