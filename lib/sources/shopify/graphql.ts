import * as z from '../../zod.js';
import type { ShopifyCustomer } from './schema.js';

/*
 * The Admin GraphQL API (used by the backfill; REST is legacy for new public apps) names a
 * customer differently from the webhooks. Converting a GraphQL node to the webhook shape lets
 * the SAME mapper, and so the SAME jobId and patch, apply to both paths.
 */

const DEFAULT_METAFIELD = { namespace: 'cleartalk', key: 'contact_id' } as const;

/** The customer selection set for `customers(...) { nodes { <this> } }`, with the contact-id metafield. */
export function shopifyCustomerGraphqlFields(
  metafield: { namespace: string; key: string } = DEFAULT_METAFIELD,
): string {
  const quote = (text: string) => JSON.stringify(text);
  return `id
firstName
lastName
defaultEmailAddress { emailAddress }
defaultPhoneNumber { phoneNumber }
state
tags
createdAt
updatedAt
note
defaultAddress { city province country countryCodeV2 zip phone }
metafield(namespace: ${quote(metafield.namespace)}, key: ${quote(metafield.key)}) { namespace key value }`;
}

/** The selection set the backfill queries, for the default `cleartalk.contact_id` metafield. */
export const SHOPIFY_CUSTOMER_GRAPHQL_FIELDS: string = shopifyCustomerGraphqlFields();

const GID = /^gid:\/\/shopify\/Customer\/([1-9][0-9]{0,19})$/;
// Built once and shared by the fields below (zod schemas are immutable; cold start).
const text = z.nullish(z.string());
const optionalString = z.optional(z.string());
const timestamp = z.iso.datetime({ offset: true });

/** A `Customer` node as SHOPIFY_CUSTOMER_GRAPHQL_FIELDS selects it; tolerant of extra fields. */
export const ShopifyGraphqlCustomerSchema = z.looseObject({
  id: z.string().check(z.regex(GID, 'a customer id looks like gid://shopify/Customer/123')),
  firstName: text,
  lastName: text,
  defaultEmailAddress: z.nullish(z.looseObject({ emailAddress: text })),
  defaultPhoneNumber: z.nullish(z.looseObject({ phoneNumber: text })),
  // Deprecated scalar fields, accepted when a caller still selects them.
  email: text,
  phone: text,
  state: text,
  tags: z.nullish(z.array(z.string())),
  createdAt: z.nullish(timestamp),
  updatedAt: timestamp,
  note: text,
  defaultAddress: z.nullish(
    z.looseObject({
      city: text,
      province: text,
      country: text,
      countryCodeV2: text,
      zip: text,
      phone: text,
    }),
  ),
  metafield: z.nullish(z.looseObject({ namespace: optionalString, key: optionalString, value: text })),
});
export type ShopifyGraphqlCustomer = z.infer<typeof ShopifyGraphqlCustomerSchema>;

/**
 * Converts a GraphQL customer node to the webhook customer shape (ids as decimal strings, enum
 * states lower-cased like REST, the metafield into `metafields[]`). `metafield` names the
 * metafield the node's `metafield` selection asked for when the node does not say.
 */
export function shopifyCustomerFromGraphql(
  node: ShopifyGraphqlCustomer,
  metafield: { namespace: string; key: string } = DEFAULT_METAFIELD,
): ShopifyCustomer {
  const id = GID.exec(node.id)?.[1] ?? node.id;
  const address = node.defaultAddress;
  const customer: ShopifyCustomer = {
    id,
    admin_graphql_api_id: node.id,
    updated_at: node.updatedAt,
    created_at: node.createdAt ?? null,
    first_name: node.firstName ?? null,
    last_name: node.lastName ?? null,
    email: node.defaultEmailAddress?.emailAddress ?? node.email ?? null,
    phone: node.defaultPhoneNumber?.phoneNumber ?? node.phone ?? null,
    note: node.note ?? null,
    state: node.state ? node.state.toLowerCase() : null,
    tags: node.tags ? node.tags.join(', ') : null,
    default_address: address
      ? {
          city: address.city ?? null,
          province: address.province ?? null,
          country: address.country ?? null,
          country_code: address.countryCodeV2 ?? null,
          zip: address.zip ?? null,
          phone: address.phone ?? null,
        }
      : null,
    metafields:
      node.metafield && node.metafield.value !== null && node.metafield.value !== undefined
        ? [
            {
              namespace: node.metafield.namespace ?? metafield.namespace,
              key: node.metafield.key ?? metafield.key,
              value: node.metafield.value,
            },
          ]
        : [],
  };
  return customer;
}
