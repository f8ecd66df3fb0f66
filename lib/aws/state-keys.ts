import { sha256Hex } from '../hash.js';

/**
 * Key design of the one DynamoDB state table (partition key `pk`, sort key `sk`, both strings;
 * TTL attribute `expiresAt` in epoch seconds). Every item kind has its own `pk` prefix, so
 * kinds never collide and each lookup is a single GetItem:
 *
 * | item        | pk                                   | sk                  | notes                          |
 * |-------------|--------------------------------------|---------------------|--------------------------------|
 * | ledger      | `job#<jobId>`                        | `job`               | applied jobs, TTL 30 days      |
 * | contact     | `contact#<contactId>`                | `fields`            | field versions + contact lease |
 * | link (ext)  | `link#ext#<key up to its last ':'>`  | `<externalKey>`     | shop redact = one Query        |
 * | link (mail) | `link#email#<sha256(email)>`         | `link`              | no contact values stored       |
 * | link (tel)  | `link#phone#<sha256(E.164)>`         | `link`              | no contact values stored       |
 * | checkpoint  | `checkpoint#<source>#<scope>`        | `checkpoint`        | conditional on `revision`      |
 * | delivery    | `delivery#<source>#<deliveryId>`     | `delivery`          | webhook deliveries, TTL 7 days |
 * | pacer       | `pacer#<name>`                       | `pacer`             | next request slot of an API    |
 */
export const STATE_TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' } as const;

export interface ItemKey {
  readonly pk: string;
  readonly sk: string;
}

export function ledgerKey(jobId: string): ItemKey {
  return { pk: `job#${jobId}`, sk: 'job' };
}

export function contactFieldsKey(contactId: string): ItemKey {
  return { pk: `contact#${contactId}`, sk: 'fields' };
}

/**
 * External keys such as `shopify:<shop>:customer:<id>` are grouped by everything before their
 * last `:`, so all of one shop's customer links share a partition (shop/redact is one Query).
 */
export function externalLinkKey(externalKey: string): ItemKey {
  const cut = externalKey.lastIndexOf(':');
  const group = cut > 0 ? externalKey.slice(0, cut) : externalKey;
  return { pk: `link#ext#${group}`, sk: externalKey };
}

/** The partition holding every customer link of one Shopify shop. */
export function shopLinksPartition(shopDomain: string): string {
  return `link#ext#shopify:${shopDomain}:customer`;
}

/** Emails are stored only as a hash of the normalised (trimmed, lower-cased) address. */
export function emailLinkKey(email: string): ItemKey {
  return { pk: `link#email#${sha256Hex(email.trim().toLowerCase())}`, sk: 'link' };
}

/**
 * Phones are stored only as a hash of the E.164 number. A number written with `+` and separators
 * (`+1 555-123 4567`, `+1 (555) 123.4567`) is the same E.164 number and keys the same link, so a
 * producer that formats its phones still meets the links `npm run links -- import` stored.
 */
export function phoneLinkKey(phoneE164: string): ItemKey {
  return { pk: `link#phone#${sha256Hex(canonicalPhone(phoneE164))}`, sk: 'link' };
}

const FORMATTED_E164 = /^\+[0-9 ().-]+$/;

function canonicalPhone(phone: string): string {
  const trimmed = phone.trim();
  return FORMATTED_E164.test(trimmed) ? trimmed.replace(/[ ().-]/g, '') : trimmed;
}

export function checkpointKey(source: string, scope: string): ItemKey {
  return { pk: `checkpoint#${source}#${scope}`, sk: 'checkpoint' };
}

/** A webhook delivery already enqueued (Shopify `X-Shopify-Webhook-Id`, Typeform `event_id`). */
export function deliveryKey(source: string, deliveryId: string): ItemKey {
  return { pk: `delivery#${source}#${deliveryId}`, sk: 'delivery' };
}

/** The shared request pacer of one API account (`name` holds no secret: see shared-pacer.ts). */
export function pacerKey(name: string): ItemKey {
  return { pk: `pacer#${name}`, sk: 'pacer' };
}
