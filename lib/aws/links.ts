import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { canonicalInstant, compareInstants } from '../calendar.js';
import { DependencyError } from '../errors.js';
import { isConditionFailure } from './conditions.js';
import {
  emailLinkKey,
  externalLinkKey,
  type ItemKey,
  phoneLinkKey,
  shopLinksPartition,
} from './state-keys.js';

/**
 * Links from what a source knows about a person (an external key such as
 * `shopify:<shop>:customer:<id>`, an email, a phone) to a ClearTalk contact id. Emails and phones
 * are stored only as hashes (see `state-keys.ts`).
 *
 * A removed link (`customers/redact`, `customers/delete`, `shop/redact`) leaves a tombstone on its
 * item for {@link REDACT_KEEP_SECONDS}: no contact id, only when the removal happened. A change
 * that happened before it (a job still queued, dead-lettered, or in flight at that moment) must
 * not link the person again nor be applied through those keys; a change made after it is a new
 * relationship and proceeds as for anybody unknown.
 */
export interface LinkStore {
  /** The contact id linked to `match`: by externalKey, then email, then phone; undefined when none. */
  resolve(match: LinkKeys): Promise<string | undefined>;
  /** As {@link resolve}, and when nothing is linked, the latest removal among the keys (same reads). */
  lookup(match: LinkKeys): Promise<LinkLookup>;
  /**
   * Links every key in `match` to `contactId` (the latest link wins). With `occurredAt` (the
   * change's time), a key whose link was removed after that time keeps its tombstone: a change
   * from before a redact does not link the person again. Without it (an operator's import) every
   * key is linked.
   * @returns the number of keys left unlinked for that reason
   */
  putLinks(contactId: string, match: LinkKeys, options?: { occurredAt?: string }): Promise<number>;
  /**
   * Removes one Shopify customer's links (`customers/redact`, `customers/delete`): the external key,
   * the email/phone links learned with it, and `extra` email/phone; each key keeps a tombstone.
   * Returns the number of links removed.
   */
  removeCustomerLinks(
    shop: string,
    customerId: string,
    extra?: { email?: string | undefined; phone?: string | undefined },
  ): Promise<number>;
  /**
   * Removes every customer link of a shop (`shop/redact`) and the email/phone links learned with
   * them, each leaving a tombstone. Returns the number of keys replaced (BatchWriteItem does not
   * say whether a key existed).
   */
  removeShopLinks(shop: string): Promise<number>;
}

/**
 * How long a removed link's tombstone is kept: as long as the ledger keeps an applied job, longer
 * than any job can wait in the queue or the dead-letter queue (SQS keeps a message at most 14
 * days) and than Shopify retries a webhook (48 h).
 */
export const REDACT_KEEP_SECONDS = 30 * 24 * 60 * 60;

/** A removed link's item: when the link was removed; it names no contact. */
export interface TombstoneItem {
  pk: string;
  sk: string;
  /** When the link was removed (ISO instant, `toISOString` form). */
  redactedAt: string;
  updatedAt: string;
  /** DynamoDB TTL (epoch seconds). */
  expiresAt: number;
}

/**
 * The contact linked to a person; or, when none is, `redactedAt`: the latest time (ISO instant)
 * one of their keys had its link removed, among tombstones still kept (absent when none was).
 */
export type LinkLookup =
  | { readonly contactId: string; readonly redactedAt?: undefined }
  | { readonly contactId?: undefined; readonly redactedAt?: string };

/** The later of two instants, either of which may be missing. */
function laterInstant(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  return b === undefined || compareInstants(a, b) >= 0 ? a : b;
}

/** The removal time of a tombstone item still kept at `nowMs` (DynamoDB's TTL deletes late). */
export function liveRedactedAt(
  item: { readonly redactedAt?: unknown; readonly expiresAt?: unknown } | undefined,
  nowMs: number,
): string | undefined {
  return typeof item?.redactedAt === 'string' && Number(item.expiresAt) >= nowMs / 1000
    ? item.redactedAt
    : undefined;
}

/** Whether a tombstone removed at `redactedAt` holds back a change that happened at `occurredAt`. */
export function redactedAfter(redactedAt: string | undefined, occurredAt: string | undefined): boolean {
  return redactedAt !== undefined && occurredAt !== undefined && compareInstants(occurredAt, redactedAt) < 0;
}

/**
 * The condition a link write for a change at `occurredAt` adds: the item holds no tombstone newer
 * than the change (or one past its expiry, which DynamoDB's TTL removes only eventually), with
 * its values. No condition without `occurredAt` (an operator's import, a test).
 */
export function notRedactedSince(
  occurredAt: string | undefined,
  nowMs: number,
): { readonly expression?: string; readonly values: Record<string, string | number> } {
  if (occurredAt === undefined) return { values: {} };
  return {
    expression: '(attribute_not_exists(redactedAt) OR redactedAt <= :occurredAt OR expiresAt < :nowSeconds)',
    values: { ':occurredAt': canonicalInstant(occurredAt), ':nowSeconds': Math.floor(nowMs / 1000) },
  };
}

/**
 * Claims on a new person's link keys while the worker creates their contact (`createIfUnresolved`).
 * Apart from the link store because only the worker claims: the webhook functions, which also use
 * links, need no `dynamodb:UpdateItem` (lib/aws/creation-claims.ts has the DynamoDB side).
 */
export interface CreationClaims {
  /**
   * Claims the creation of a contact for `match`: every key, in the order externalKey, email,
   * phone, unless it is linked already or another owner holds a live claim on it. All or nothing:
   * when a key is refused, the keys claimed so far are released. The worker claims before
   * `POST /contacts`, so two jobs for one new person (e.g. a Shopify job keyed by external key and
   * a Typeform job keyed by email, in different FIFO groups) cannot both create a contact.
   * `putLinks` for the same keys ends the claim; an abandoned claim expires at `untilMs`.
   */
  claimCreation(match: LinkKeys, claim: CreationClaim): Promise<CreationClaimResult>;
  /** Drops `owner`'s creation claims on `match`'s keys (no-op where it holds none). */
  releaseCreation(match: LinkKeys, owner: string): Promise<void>;
  /**
   * Links `match`'s keys to the contact just created for them, replacing the claim items, but never
   * a link to another contact written meanwhile (a links import, a job that named the contact):
   * that link stays and its contact is returned, so the job can go there instead. Nor a key whose
   * link was removed after `occurredAt` (a redact while the contact was being created): then
   * `redacted`. Without `occurredAt` tombstones are not consulted.
   */
  linkCreated(contactId: string, match: LinkKeys, occurredAt?: string): Promise<LinkCreatedResult>;
}

/**
 * Linked; or refused because a key links to another contact by now (`contactId`), or because a
 * key's link was removed after the change (`redacted`; the keys not removed are linked).
 */
export type LinkCreatedResult =
  | { readonly linked: true }
  | { readonly linked: false; readonly contactId: string }
  | { readonly linked: false; readonly redacted: true };

/**
 * Who is creating the contact for a person's keys, and until when (epoch ms); `occurredAt`, the
 * change's time: a key whose link was removed after it is not claimed (without it, tombstones are
 * not consulted).
 */
export interface CreationClaim {
  readonly owner: string;
  readonly untilMs: number;
  readonly occurredAt?: string;
}

/**
 * The answer to a creation claim: claimed; or refused because a key is linked by now (apply the
 * job to `contactId`), or because another job is creating the contact (`contactId` undefined).
 */
export type CreationClaimResult =
  | { readonly claimed: true }
  | { readonly claimed: false; readonly contactId?: string };

/** The external key of a Shopify customer, as the Shopify mapper builds it (DESIGN.md). */
export function shopifyCustomerKey(shop: string, customerId: string): string {
  return `shopify:${shop}:customer:${customerId}`;
}

type Doc = Pick<DynamoDBDocumentClient, 'send'>;

/** A link item of the state table. */
export interface LinkItem {
  pk: string;
  sk: string;
  contactId: string;
  /** On external-key links: the email/phone link keys stored with it, so a redact removes them too. */
  linkedKeys?: string[];
  updatedAt: string;
}

/** What a link can be keyed by (a `Match`, or part of one). */
export interface LinkKeys {
  readonly externalKey?: string | undefined;
  readonly email?: string | undefined;
  readonly phone?: string | undefined;
}

/** The keys of `match` in resolution order (externalKey, email, phone). */
export function orderedLinkKeys(match: LinkKeys): ItemKey[] {
  const keys = linkKeys(match);
  return [keys.ext, keys.email, keys.phone].filter((key): key is ItemKey => key !== undefined);
}

function linkKeys(match: LinkKeys): { ext?: ItemKey; email?: ItemKey; phone?: ItemKey } {
  const keys: { ext?: ItemKey; email?: ItemKey; phone?: ItemKey } = {};
  if (match.externalKey) keys.ext = externalLinkKey(match.externalKey);
  if (match.email?.trim()) keys.email = emailLinkKey(match.email);
  if (match.phone?.trim()) keys.phone = phoneLinkKey(match.phone);
  return keys;
}

/** `pk|sk`, the form in which linked keys are remembered on an external link. */
function encodeKey(key: ItemKey): string {
  return `${key.pk}|${key.sk}`;
}

/**
 * The link items `putLinks` writes for `match`: the external-key link (with the email/phone link
 * keys learned with it, for redacts) first, then the email and phone links.
 */
export function buildLinkItems(contactId: string, match: LinkKeys, updatedAt: string): LinkItem[] {
  const keys = linkKeys(match);
  const items: LinkItem[] = [];
  const personal = [keys.email, keys.phone].filter((key): key is ItemKey => key !== undefined);
  if (keys.ext) items.push({ ...keys.ext, contactId, linkedKeys: personal.map(encodeKey), updatedAt });
  for (const key of personal) items.push({ ...key, contactId, updatedAt });
  return items;
}

function decodeKey(text: string): ItemKey | undefined {
  const cut = text.lastIndexOf('|');
  return cut > 0 ? { pk: text.slice(0, cut), sk: text.slice(cut + 1) } : undefined;
}

function fail(action: string, error: unknown): never {
  throw new DependencyError(
    'dynamodb',
    `link store: ${action} failed (${(error as Error).name ?? 'Error'})`,
    {
      cause: error,
    },
  );
}

/**
 * The link store on the DynamoDB state table.
 * @throws {DependencyError} (retryable) from every method when DynamoDB fails
 */
export function createLinkStore(options: {
  client: Doc;
  tableName: string;
  /** @default () => new Date() */
  now?: () => Date;
  /** Waits between BatchWrite rounds with unprocessed items. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}): LinkStore {
  const { client, tableName } = options;
  const now = options.now ?? (() => new Date());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  async function readLink(key: ItemKey): Promise<Partial<LinkItem & TombstoneItem> | undefined> {
    try {
      const out = await client.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
      return out.Item as Partial<LinkItem & TombstoneItem> | undefined;
    } catch (error) {
      return fail('read', error);
    }
  }

  function tombstone(key: ItemKey, at: Date): TombstoneItem {
    const stamp = at.toISOString();
    return {
      ...key,
      redactedAt: stamp,
      updatedAt: stamp,
      expiresAt: Math.ceil(at.getTime() / 1000) + REDACT_KEEP_SECONDS,
    };
  }

  /** Replaces a key's item with a tombstone; 1 when it held a link. */
  async function buryKey(key: ItemKey, at: Date): Promise<number> {
    try {
      const out = await client.send(
        new PutCommand({ TableName: tableName, Item: tombstone(key, at), ReturnValues: 'ALL_OLD' }),
      );
      return typeof out.Attributes?.contactId === 'string' ? 1 : 0;
    } catch (error) {
      return fail('write', error);
    }
  }

  /** Writes tombstones 25 at a time (the BatchWriteItem limit), retrying unprocessed items with backoff. */
  async function buryKeys(keys: readonly ItemKey[], at: Date): Promise<void> {
    const unique = [...new Map(keys.map((key) => [encodeKey(key), key])).values()];
    for (let start = 0; start < unique.length; start += 25) {
      let requests = unique
        .slice(start, start + 25)
        .map((key) => ({ PutRequest: { Item: tombstone(key, at) } }));
      for (let round = 1; requests.length > 0; round++) {
        let out: BatchWriteCommandOutput;
        try {
          out = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
        } catch (error) {
          return fail('batch write', error);
        }
        const left = out.UnprocessedItems?.[tableName] ?? [];
        requests = left.flatMap((request) =>
          request.PutRequest?.Item
            ? [{ PutRequest: { Item: request.PutRequest.Item as unknown as TombstoneItem } }]
            : [],
        );
        if (requests.length === 0) break;
        if (round >= 8) fail('batch write', new Error(`${requests.length} items left unprocessed`));
        await sleep(Math.min(2_000, 50 * 2 ** round));
      }
    }
  }

  /** Writes one link; with `occurredAt`, not over a newer tombstone ('redacted' then). */
  async function putLink(item: LinkItem, occurredAt: string | undefined): Promise<'linked' | 'redacted'> {
    const { expression, values } = notRedactedSince(occurredAt, now().getTime());
    try {
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: item,
          ...(expression === undefined
            ? {}
            : { ConditionExpression: expression, ExpressionAttributeValues: values }),
        }),
      );
      return 'linked';
    } catch (error) {
      if (expression !== undefined && isConditionFailure(error)) return 'redacted';
      return fail('write', error);
    }
  }

  async function lookup(match: LinkKeys): Promise<LinkLookup> {
    const nowMs = now().getTime();
    let redactedAt: string | undefined;
    for (const key of orderedLinkKeys(match)) {
      const item = await readLink(key);
      if (typeof item?.contactId === 'string') return { contactId: item.contactId };
      redactedAt = laterInstant(redactedAt, liveRedactedAt(item, nowMs));
    }
    return redactedAt === undefined ? {} : { redactedAt };
  }

  return {
    resolve: async (match) => (await lookup(match)).contactId,
    lookup,

    async putLinks(contactId, match, options = {}) {
      const items = buildLinkItems(contactId, match, now().toISOString());
      const results = await Promise.all(items.map((item) => putLink(item, options.occurredAt)));
      return results.filter((result) => result === 'redacted').length;
    },

    async removeCustomerLinks(shop, customerId, extra = {}) {
      const ext = externalLinkKey(shopifyCustomerKey(shop, customerId));
      const existing = await readLink(ext);
      const personal = [
        ...(typeof existing?.contactId === 'string' ? (existing.linkedKeys ?? []) : []).flatMap(
          (text) => decodeKey(text) ?? [],
        ),
        ...Object.values(linkKeys({ email: extra.email, phone: extra.phone })),
      ];
      const unique = [...new Map([ext, ...personal].map((key) => [encodeKey(key), key])).values()];
      const at = now();
      const counts = await Promise.all(unique.map((key) => buryKey(key, at)));
      return counts.reduce((sum, n) => sum + n, 0);
    },

    async removeShopLinks(shop) {
      const partition = shopLinksPartition(shop);
      let removed = 0;
      let startKey: Record<string, unknown> | undefined;
      do {
        let out: QueryCommandOutput;
        try {
          out = await client.send(
            new QueryCommand({
              TableName: tableName,
              KeyConditionExpression: 'pk = :pk',
              ExpressionAttributeValues: { ':pk': partition },
              ProjectionExpression: 'pk, sk, linkedKeys, contactId',
              ConsistentRead: true,
              ...(startKey ? { ExclusiveStartKey: startKey } : {}),
            }),
          );
        } catch (error) {
          return fail('query', error);
        }
        const items = (out.Items ?? []) as Array<Pick<LinkItem, 'pk' | 'sk' | 'linkedKeys' | 'contactId'>>;
        // Links only: a tombstone already there (an earlier customer redact) keeps its time.
        const keys: ItemKey[] = items
          .filter((item) => typeof item.contactId === 'string')
          .flatMap((item) => [
            { pk: item.pk, sk: item.sk },
            ...(item.linkedKeys ?? []).flatMap((text) => decodeKey(text) ?? []),
          ]);
        await buryKeys(keys, now());
        removed += keys.length;
        startKey = out.LastEvaluatedKey;
      } while (startKey);
      return removed;
    },
  };
}

/** A link store in memory, with the same behaviour, for unit tests and benchmarks. */
export function createMemoryLinkStore(
  options: {
    /** The claim clock (epoch ms). @default Date.now */
    now?: () => number;
  } = {},
): LinkStore & CreationClaims & { size(): number } {
  const now = options.now ?? Date.now;
  const items = new Map<string, LinkItem>();
  const claims = new Map<string, CreationClaim>();
  // Tombstones of removed links, shaped as on DynamoDB (kept REDACT_KEEP_SECONDS).
  const tombstones = new Map<string, { redactedAt: string; expiresAt: number }>();
  const redactedAtOf = (key: string) => liveRedactedAt(tombstones.get(key), now());
  const bury = (key: string, at: number) => {
    items.delete(key);
    tombstones.set(key, {
      redactedAt: new Date(at).toISOString(),
      expiresAt: Math.ceil(at / 1000) + REDACT_KEEP_SECONDS,
    });
  };
  const lookup = async (match: LinkKeys): Promise<LinkLookup> => {
    let redactedAt: string | undefined;
    for (const key of orderedLinkKeys(match).map(keyOf)) {
      const item = items.get(key);
      if (item) return { contactId: item.contactId };
      redactedAt = laterInstant(redactedAt, redactedAtOf(key));
    }
    return redactedAt === undefined ? {} : { redactedAt };
  };
  const keyOf = (key: ItemKey) => encodeKey(key);
  const release = (key: string, owner: string) => {
    if (claims.get(key)?.owner === owner) claims.delete(key);
  };
  return {
    size: () => items.size,
    resolve: async (match) => (await lookup(match)).contactId,
    lookup,
    async putLinks(contactId, match, putOptions = {}) {
      let refused = 0;
      for (const item of buildLinkItems(contactId, match, new Date().toISOString())) {
        const key = keyOf(item);
        if (redactedAfter(redactedAtOf(key), putOptions.occurredAt)) {
          refused++;
          continue;
        }
        // A link replaces the claim-only item and the tombstone, as the DynamoDB put does.
        items.set(key, item);
        claims.delete(key);
        tombstones.delete(key);
      }
      return refused;
    },
    async claimCreation(match, claim) {
      const claimed: string[] = [];
      for (const key of orderedLinkKeys(match).map(keyOf)) {
        const linked = items.get(key)?.contactId;
        const held = claims.get(key);
        const redacted = redactedAfter(redactedAtOf(key), claim.occurredAt);
        if (
          linked === undefined &&
          !redacted &&
          (!held || held.untilMs < now() || held.owner === claim.owner)
        ) {
          claims.set(key, { owner: claim.owner, untilMs: claim.untilMs });
          claimed.push(key);
          continue;
        }
        for (const done of claimed) release(done, claim.owner);
        return linked === undefined ? { claimed: false } : { claimed: false, contactId: linked };
      }
      return { claimed: true };
    },
    async releaseCreation(match, owner) {
      for (const key of orderedLinkKeys(match)) release(keyOf(key), owner);
    },
    async linkCreated(contactId, match, occurredAt) {
      // As on DynamoDB, where each key is a conditional Put of its own: the free keys are linked.
      let taken: string | undefined;
      let redacted = false;
      for (const item of buildLinkItems(contactId, match, new Date().toISOString())) {
        const key = keyOf(item);
        const current = items.get(key)?.contactId;
        if (current !== undefined && current !== contactId) {
          taken ??= current;
          continue;
        }
        if (current === undefined && redactedAfter(redactedAtOf(key), occurredAt)) {
          redacted = true;
          continue;
        }
        items.set(key, item);
        claims.delete(key);
        tombstones.delete(key);
      }
      if (redacted) return { linked: false, redacted: true };
      return taken === undefined ? { linked: true } : { linked: false, contactId: taken };
    },
    async removeCustomerLinks(shop, customerId, extra = {}) {
      const ext = externalLinkKey(shopifyCustomerKey(shop, customerId));
      const linked = items.get(keyOf(ext))?.linkedKeys ?? [];
      const keys = new Set([
        keyOf(ext),
        ...linked,
        ...Object.values(linkKeys({ email: extra.email, phone: extra.phone })).map(keyOf),
      ]);
      let removed = 0;
      const at = now();
      for (const key of keys) {
        if (items.has(key)) removed++;
        bury(key, at);
      }
      return removed;
    },
    async removeShopLinks(shop) {
      const partition = shopLinksPartition(shop);
      let removed = 0;
      const at = now();
      for (const [key, item] of [...items]) {
        if (item.pk !== partition) continue;
        // Counted per key replaced, as on DynamoDB (BatchWriteItem does not say what existed).
        for (const linked of [key, ...(item.linkedKeys ?? [])]) {
          removed++;
          bury(linked, at);
        }
      }
      return removed;
    },
  };
}
