import * as z from '../../zod.js';

/*
 * Shopify webhook payloads (PLATFORMS.md "Shopify"): strict on the fields the mapper reads,
 * tolerant of the rest (z.looseObject). Ids arrive as JSON numbers; they are kept as decimal
 * strings so a 64-bit id never meets floating point in our code.
 */

/** A Shopify numeric id (number or decimal string) as a decimal string. */
export const ShopifyIdSchema = z.pipe(
  z.union([
    // Not z.int(): zod stops it at 2^53 and larger ids occur; the resource's gid then gives the exact value.
    z.number().check(z.positive(), z.refine(Number.isInteger, 'a Shopify id is a positive integer')),
    z.string().check(z.regex(/^[1-9][0-9]{0,19}$/, 'a Shopify id is a positive integer')),
  ]),
  z.transform(String),
);

/*
 * Cold start: every schema below is built at import by every Shopify function. zod schemas are
 * immutable, so each distinct field schema is built once and shared (`text`, `optionalGid`,
 * `nullishTimestamp`, ...) instead of once per field and per shape: a `z.nullish(s)` alone builds two
 * wrapper instances. Same checks, messages and output (docs/benchmarks.md, cold start).
 */
const text = z.nullish(z.string());
const optionalGid = z.optional(z.string());
const nonEmptyString = z.string().check(z.minLength(1));

/**
 * The exact id of a resource: taken from `admin_graphql_api_id` when present, because JSON.parse
 * rounds numeric ids above 2^53 (Shopify's own sample customer 706405506930370084 becomes
 * ...370000), which would give a webhook and the GraphQL backfill different jobIds.
 */
function preferGraphqlId<T extends { id: string; admin_graphql_api_id?: string | undefined }>(
  resource: string,
) {
  const gid = new RegExp(`^gid://shopify/${resource}/([1-9][0-9]{0,19})$`);
  return (value: T): T => {
    const exact =
      value.admin_graphql_api_id === undefined ? undefined : gid.exec(value.admin_graphql_api_id)?.[1];
    return exact === undefined || exact === value.id ? value : { ...value, id: exact };
  };
}
const timestamp = z.iso.datetime({ offset: true });
const nullishTimestamp = z.nullish(timestamp);
const nullishBoolean = z.nullish(z.boolean());
const nullishUnknownArray = z.nullish(z.array(z.unknown()));
const nullishPrice = z.nullish(z.union([z.string(), z.number()]));

const addressShape = {
  first_name: text,
  last_name: text,
  city: text,
  province: text,
  country: text,
  country_code: text,
  zip: text,
  phone: text,
};
/** An address as Shopify sends it (customer default_address, order billing/shipping address). */
export const ShopifyAddressSchema = z.looseObject(addressShape);
const nullishAddress = z.nullish(ShopifyAddressSchema);
export type ShopifyAddress = z.infer<typeof ShopifyAddressSchema>;

/** A metafield included in a webhook when the subscription asks for it (`metafields[]`). */
const metafieldShape = {
  namespace: z.string(),
  key: z.string(),
  value: z.nullish(z.union([z.string(), z.number(), z.boolean()])),
};
export const ShopifyMetafieldSchema = z.looseObject(metafieldShape);
export type ShopifyMetafield = z.infer<typeof ShopifyMetafieldSchema>;

// `address` and `metafields` are passed in already wrapped (`z.nullish`): built once per variant.
const customerShapeWith = <A extends z.ZodMiniType, M extends z.ZodMiniType>(address: A, metafields: M) => ({
  id: ShopifyIdSchema,
  admin_graphql_api_id: optionalGid,
  created_at: nullishTimestamp,
  first_name: text,
  last_name: text,
  email: text,
  phone: text,
  note: text,
  state: text,
  verified_email: nullishBoolean,
  currency: text,
  default_address: address,
  addresses: nullishUnknownArray,
  metafields,
});
const customerShape = customerShapeWith(nullishAddress, z.nullish(z.array(ShopifyMetafieldSchema)));

/** `customers/create` and `customers/update` (also what the GraphQL converter produces). */
export const ShopifyCustomerSchema = z.pipe(
  z.looseObject({ ...customerShape, updated_at: timestamp }),
  z.transform(preferGraphqlId('Customer')),
);
export type ShopifyCustomer = z.infer<typeof ShopifyCustomerSchema>;
export type ShopifyCustomerInput = z.input<typeof ShopifyCustomerSchema>;

/** The `customer` inside an order (its `updated_at` is not the order's and is not needed). */
export const ShopifyOrderCustomerSchema = z.pipe(
  z.looseObject({
    ...customerShape,
    updated_at: nullishTimestamp,
  }),
  z.transform(preferGraphqlId('Customer')),
);
export type ShopifyOrderCustomer = z.infer<typeof ShopifyOrderCustomerSchema>;

// `address` and `customer` are passed in already wrapped (`z.nullish`).
const orderShapeWith = <A extends z.ZodMiniType, C extends z.ZodMiniType>(address: A, customer: C) => ({
  id: ShopifyIdSchema,
  admin_graphql_api_id: optionalGid,
  name: text,
  email: text,
  contact_email: text,
  phone: text,
  customer,
  billing_address: address,
  shipping_address: address,
  total_price: nullishPrice,
  currency: text,
  created_at: nullishTimestamp,
  processed_at: nullishTimestamp,
  updated_at: timestamp,
});

/** `orders/create`, `orders/paid` (and other order topics): `customer` is absent for a guest checkout. */
export const ShopifyOrderSchema = z.pipe(
  z.looseObject(orderShapeWith(nullishAddress, z.nullish(ShopifyOrderCustomerSchema))),
  z.transform(preferGraphqlId('Order')),
);
export type ShopifyOrder = z.infer<typeof ShopifyOrderSchema>;

/*
 * The webhook path's order schema: the SAME field checks as ShopifyOrderSchema (shapes shared
 * above), but unknown keys are dropped instead of copied. An order carries ~40 keys the mapper
 * never reads (line_items, tax_lines, ...), and copying them through zod's catch-all was the
 * largest part of the order parse. The output is therefore a ShopifyOrder without the extra
 * keys; schema.test.ts checks both schemas accept and reject the same payloads.
 */
const nullishAddressFields = z.nullish(z.object(addressShape));
/** ShopifyOrderSchema's checks, keeping only the fields the order mapper reads. */
export const ShopifyOrderFieldsSchema = z.pipe(
  z.object(
    orderShapeWith(
      nullishAddressFields,
      z.nullish(
        z.pipe(
          z.object({
            ...customerShapeWith(nullishAddressFields, z.nullish(z.array(z.object(metafieldShape)))),
            updated_at: nullishTimestamp,
          }),
          z.transform(preferGraphqlId('Customer')),
        ),
      ),
    ),
  ),
  z.transform(preferGraphqlId('Order')),
) as unknown as z.ZodMiniType<ShopifyOrder>;
export type ShopifyOrderInput = z.input<typeof ShopifyOrderSchema>;

/** `customers/delete`: only the id. */
export const ShopifyCustomerDeleteSchema = z.pipe(
  z.looseObject({ id: ShopifyIdSchema, admin_graphql_api_id: optionalGid }),
  z.transform(preferGraphqlId('Customer')),
);
export type ShopifyCustomerDelete = z.infer<typeof ShopifyCustomerDeleteSchema>;

const ComplianceCustomerSchema = z.looseObject({ id: ShopifyIdSchema, email: text, phone: text });
const optionalShopId = z.optional(ShopifyIdSchema);
const nullishIds = z.nullish(z.array(ShopifyIdSchema));

/** Compliance topic `customers/redact`. */
export const ShopifyCustomersRedactSchema = z.looseObject({
  shop_id: optionalShopId,
  shop_domain: nonEmptyString,
  customer: ComplianceCustomerSchema,
  orders_to_redact: nullishIds,
});
export type ShopifyCustomersRedact = z.infer<typeof ShopifyCustomersRedactSchema>;

/** Compliance topic `shop/redact`. */
export const ShopifyShopRedactSchema = z.looseObject({
  shop_id: optionalShopId,
  shop_domain: nonEmptyString,
});
export type ShopifyShopRedact = z.infer<typeof ShopifyShopRedactSchema>;

/** Compliance topic `customers/data_request`. */
export const ShopifyDataRequestSchema = z.looseObject({
  shop_id: optionalShopId,
  shop_domain: nonEmptyString,
  customer: ComplianceCustomerSchema,
  orders_requested: nullishIds,
  data_request: z.nullish(z.looseObject({ id: ShopifyIdSchema })),
});
export type ShopifyDataRequest = z.infer<typeof ShopifyDataRequestSchema>;

/** The topics the product knows (everything else is answered `ignored`). */
export const SHOPIFY_TOPICS = {
  customerCreate: 'customers/create',
  customerUpdate: 'customers/update',
  customerDelete: 'customers/delete',
  orderCreate: 'orders/create',
  orderPaid: 'orders/paid',
  customersDataRequest: 'customers/data_request',
  customersRedact: 'customers/redact',
  shopRedact: 'shop/redact',
} as const;

const LONG_DIGITS = /\d{16}/;
const NUMBER_CHAR = /[0-9.eE+-]/;

/**
 * `JSON.parse` for Shopify bodies that keeps integers above 2^53 exact, as decimal strings.
 * Shopify ids are 64-bit; compliance payloads (customers/redact, data_request) carry no gid to
 * recover a rounded id from. Bodies without a 16-digit run take the plain JSON.parse path.
 * @throws {SyntaxError} when the text is not JSON.
 */
export function parseShopifyJson(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  let out = '';
  let copied = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92)
        i += 1; // a backslash escapes the next character
      else if (ch === 34) inString = false;
      continue;
    }
    if (ch === 34) {
      inString = true;
      continue;
    }
    if (ch >= 48 && ch <= 57) {
      let end = i + 1;
      while (end < text.length && NUMBER_CHAR.test(text.charAt(end))) end += 1;
      const token = text.slice(i, end);
      // Outside a string a digit run is always a value, so quoting it keeps the JSON valid.
      const negative = i > 0 && text.charCodeAt(i - 1) === 45;
      if (!negative && token.length >= 16 && /^\d+$/.test(token) && !Number.isSafeInteger(Number(token))) {
        out += `${text.slice(copied, i)}"${token}"`;
        copied = end;
      }
      i = end - 1;
    }
  }
  return JSON.parse(out + text.slice(copied));
}
