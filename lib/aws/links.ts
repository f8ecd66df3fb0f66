import {
  BatchWriteCommand,
  type BatchWriteCommandOutput,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { DependencyError } from '../errors.js';
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
 */
export interface LinkStore {
  /** The contact id linked to `match`: by externalKey, then email, then phone; undefined when none. */
  resolve(match: LinkKeys): Promise<string | undefined>;
  /** Links every key in `match` to `contactId` (the latest link wins). */
  putLinks(contactId: string, match: LinkKeys): Promise<void>;
  /**
   * Removes one Shopify customer's links (`customers/redact`, `customers/delete`): the external key,
   * the email/phone links learned with it, and `extra` email/phone. Returns the number of items removed.
   */
  removeCustomerLinks(
    shop: string,
    customerId: string,
    extra?: { email?: string | undefined; phone?: string | undefined },
  ): Promise<number>;
  /**
   * Removes every customer link of a shop (`shop/redact`) and the email/phone links learned with
   * them. Returns the number of keys deleted (BatchWriteItem does not say whether a key existed).
   */
  removeShopLinks(shop: string): Promise<number>;
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
   * that link stays and its contact is returned, so the job can go there instead.
   */
  linkCreated(contactId: string, match: LinkKeys): Promise<LinkCreatedResult>;
}

/** Linked; or refused because a key links to another contact by now (`contactId`). */
export type LinkCreatedResult =
  | { readonly linked: true }
  | { readonly linked: false; readonly contactId: string };

/** Who is creating the contact for a person's keys, and until when (epoch ms). */
export interface CreationClaim {
  readonly owner: string;
  readonly untilMs: number;
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

  async function getContactId(
    key: ItemKey,
  ): Promise<{ contactId: string; linkedKeys: string[] } | undefined> {
    try {
      const out = await client.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }));
      const item = out.Item as Partial<LinkItem> | undefined;
      if (typeof item?.contactId !== 'string') return undefined;
      return { contactId: item.contactId, linkedKeys: item.linkedKeys ?? [] };
    } catch (error) {
      return fail('read', error);
    }
  }

  async function deleteKey(key: ItemKey): Promise<number> {
    try {
      const out = await client.send(
        new DeleteCommand({ TableName: tableName, Key: key, ReturnValues: 'ALL_OLD' }),
      );
      return out.Attributes ? 1 : 0;
    } catch (error) {
      return fail('delete', error);
    }
  }

  /** Deletes keys 25 at a time (the BatchWriteItem limit), retrying unprocessed items with backoff. */
  async function deleteKeys(keys: readonly ItemKey[]): Promise<void> {
    const unique = [...new Map(keys.map((key) => [encodeKey(key), key])).values()];
    for (let start = 0; start < unique.length; start += 25) {
      let requests = unique.slice(start, start + 25).map((Key) => ({ DeleteRequest: { Key } }));
      for (let round = 1; requests.length > 0; round++) {
        let out: BatchWriteCommandOutput;
        try {
          out = await client.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
        } catch (error) {
          return fail('batch delete', error);
        }
        const left = out.UnprocessedItems?.[tableName] ?? [];
        requests = left.flatMap((request) =>
          request.DeleteRequest?.Key
            ? [{ DeleteRequest: { Key: request.DeleteRequest.Key as unknown as ItemKey } }]
            : [],
        );
        if (requests.length === 0) break;
        if (round >= 8) fail('batch delete', new Error(`${requests.length} items left unprocessed`));
        await sleep(Math.min(2_000, 50 * 2 ** round));
      }
    }
  }

  return {
    async resolve(match) {
      for (const key of orderedLinkKeys(match)) {
        const found = await getContactId(key);
        if (found) return found.contactId;
      }
      return undefined;
    },

    async putLinks(contactId, match) {
      const items = buildLinkItems(contactId, match, now().toISOString());
      try {
        await Promise.all(items.map((Item) => client.send(new PutCommand({ TableName: tableName, Item }))));
      } catch (error) {
        fail('write', error);
      }
    },

    async removeCustomerLinks(shop, customerId, extra = {}) {
      const ext = externalLinkKey(shopifyCustomerKey(shop, customerId));
      const existing = await getContactId(ext);
      const personal = [
        ...(existing?.linkedKeys ?? []).flatMap((text) => decodeKey(text) ?? []),
        ...Object.values(linkKeys({ email: extra.email, phone: extra.phone })),
      ];
      const unique = [...new Map([ext, ...personal].map((key) => [encodeKey(key), key])).values()];
      const counts = await Promise.all(unique.map(deleteKey));
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
              ProjectionExpression: 'pk, sk, linkedKeys',
              ConsistentRead: true,
              ...(startKey ? { ExclusiveStartKey: startKey } : {}),
            }),
          );
        } catch (error) {
          return fail('query', error);
        }
        const items = (out.Items ?? []) as Array<Pick<LinkItem, 'pk' | 'sk' | 'linkedKeys'>>;
        const keys: ItemKey[] = items.flatMap((item) => [
          { pk: item.pk, sk: item.sk },
          ...(item.linkedKeys ?? []).flatMap((text) => decodeKey(text) ?? []),
        ]);
        await deleteKeys(keys);
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
  const keyOf = (key: ItemKey) => encodeKey(key);
  const release = (key: string, owner: string) => {
    if (claims.get(key)?.owner === owner) claims.delete(key);
  };
  return {
    size: () => items.size,
    async resolve(match) {
      for (const key of orderedLinkKeys(match)) {
        const item = items.get(keyOf(key));
        if (item) return item.contactId;
      }
      return undefined;
    },
    async putLinks(contactId, match) {
      for (const item of buildLinkItems(contactId, match, new Date().toISOString())) {
        items.set(keyOf(item), item);
      }
      // A link replaces the claim-only item, as the DynamoDB put does.
      for (const key of orderedLinkKeys(match)) claims.delete(keyOf(key));
    },
    async claimCreation(match, claim) {
      const claimed: string[] = [];
      for (const key of orderedLinkKeys(match).map(keyOf)) {
        const linked = items.get(key)?.contactId;
        const held = claims.get(key);
        if (linked === undefined && (!held || held.untilMs < now() || held.owner === claim.owner)) {
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
    async linkCreated(contactId, match) {
      // As on DynamoDB, where each key is a conditional Put of its own: the free keys are linked.
      let taken: string | undefined;
      for (const item of buildLinkItems(contactId, match, new Date().toISOString())) {
        const current = items.get(keyOf(item))?.contactId;
        if (current !== undefined && current !== contactId) {
          taken ??= current;
          continue;
        }
        items.set(keyOf(item), item);
        claims.delete(keyOf(item));
      }
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
      for (const key of keys) if (items.delete(key)) removed++;
      return removed;
    },
    async removeShopLinks(shop) {
      const partition = shopLinksPartition(shop);
      let removed = 0;
      for (const [key, item] of [...items]) {
        if (item.pk !== partition) continue;
        for (const linked of [key, ...(item.linkedKeys ?? [])]) if (items.delete(linked)) removed++;
      }
      return removed;
    },
  };
}
