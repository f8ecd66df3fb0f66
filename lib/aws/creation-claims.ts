import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DependencyError } from '../errors.js';
import { isConditionFailure } from './conditions.js';
import {
  buildLinkItems,
  type CreationClaim,
  type CreationClaims,
  type LinkItem,
  liveRedactedAt,
  notRedactedSince,
  orderedLinkKeys,
  REDACT_KEEP_SECONDS,
  redactedAfter,
} from './links.js';
import type { ItemKey } from './state-keys.js';

/**
 * Creation claims on the DynamoDB state table (docs/worker.md, "Creating contacts"): the claim sits
 * on the link item of each key, as `claimOwner` / `claimUntil`, on an item without `contactId`, so
 * link lookups do not see it and the link `putLinks` writes later replaces it. Only the worker
 * claims, so this lives apart from the link store the webhook functions bundle.
 */

/**
 * How long a claim-only item stays after its last claim before DynamoDB's TTL removes it. A claim
 * may sit on a redact tombstone (a change made after the redact creates the contact), so it is
 * the tombstone's own span: a claim never shortens a tombstone. The claim's life is `claimUntil`.
 */
const CLAIM_ITEM_TTL_SECONDS = REDACT_KEEP_SECONDS;

type Doc = Pick<DynamoDBDocumentClient, 'send'>;

// linkKey's answer for a key whose link was removed after the change (not a contact id: those are digits).
const REDACTED = 'redacted';

function fail(action: string, error: unknown): never {
  throw new DependencyError(
    'dynamodb',
    `creation claims: ${action} failed (${(error as Error).name ?? 'Error'})`,
    { cause: error },
  );
}

/**
 * The creation claims on the state table.
 * @throws {DependencyError} (retryable) from every method when DynamoDB fails
 */
export function createCreationClaims(options: {
  client: Doc;
  tableName: string;
  /** The clock of `CreationClaim.untilMs` (the worker's deadline clock). @default Date.now */
  now?: () => number;
}): CreationClaims {
  const { client, tableName } = options;
  const now = options.now ?? Date.now;

  /**
   * Claims one key: 'claimed', 'busy' (another owner's live claim, or a redact after the change:
   * the redelivery finds the tombstone and skips the job), or the contact it links to.
   */
  async function claimKey(
    key: ItemKey,
    claim: CreationClaim,
  ): Promise<'claimed' | 'busy' | { linked: string }> {
    const nowMs = now();
    const notRedacted = notRedactedSince(claim.occurredAt, nowMs);
    try {
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET claimOwner = :owner, claimUntil = :until, expiresAt = :expires',
          ConditionExpression: `attribute_not_exists(contactId) AND (attribute_not_exists(claimOwner) OR claimUntil < :now OR claimOwner = :owner)${notRedacted.expression ? ` AND ${notRedacted.expression}` : ''}`,
          ExpressionAttributeValues: {
            ':owner': claim.owner,
            ':until': claim.untilMs,
            ':now': nowMs,
            ':expires': Math.ceil(Math.max(claim.untilMs, nowMs) / 1000) + CLAIM_ITEM_TTL_SECONDS,
            ...notRedacted.values,
          },
        }),
      );
      return 'claimed';
    } catch (error) {
      if (!isConditionFailure(error)) fail('claim', error);
    }
    // Refused: linked by now, claimed by another job, or redacted since the change.
    try {
      const out = await client.send(
        new GetCommand({
          TableName: tableName,
          Key: key,
          ConsistentRead: true,
          ProjectionExpression: 'contactId',
        }),
      );
      const contactId = (out.Item as { contactId?: unknown } | undefined)?.contactId;
      return typeof contactId === 'string' ? { linked: contactId } : 'busy';
    } catch (error) {
      return fail('read', error);
    }
  }

  async function releaseKey(key: ItemKey, owner: string): Promise<void> {
    try {
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'REMOVE claimOwner, claimUntil',
          ConditionExpression: 'claimOwner = :owner AND attribute_not_exists(contactId)',
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) fail('release', error);
    }
  }

  /**
   * Writes one link of a created contact unless the key links to another contact by now, or its
   * link was removed after the change (a redact while the contact was being created).
   * @returns undefined when written, 'redacted', or the contact the key links to
   */
  async function linkKey(item: LinkItem, occurredAt: string | undefined): Promise<string | undefined> {
    // A few rounds: a link that was refused and has gone again by the time it is read is retried.
    for (let round = 1; ; round++) {
      const nowMs = now();
      const notRedacted = notRedactedSince(occurredAt, nowMs);
      try {
        await client.send(
          new PutCommand({
            TableName: tableName,
            Item: item,
            ConditionExpression: `(attribute_not_exists(contactId) OR contactId = :contactId)${notRedacted.expression ? ` AND ${notRedacted.expression}` : ''}`,
            ExpressionAttributeValues: { ':contactId': item.contactId, ...notRedacted.values },
          }),
        );
        return undefined;
      } catch (error) {
        if (!isConditionFailure(error)) fail('link', error);
      }
      let found: { contactId?: unknown; redactedAt?: unknown; expiresAt?: unknown } | undefined;
      try {
        const out = await client.send(
          new GetCommand({
            TableName: tableName,
            Key: { pk: item.pk, sk: item.sk },
            ConsistentRead: true,
            ProjectionExpression: 'contactId, redactedAt, expiresAt',
          }),
        );
        found = out.Item;
      } catch (error) {
        fail('read', error);
      }
      if (typeof found?.contactId === 'string' && found.contactId !== item.contactId) return found.contactId;
      if (redactedAfter(liveRedactedAt(found, nowMs), occurredAt)) return REDACTED;
      if (round >= 3) fail('link', new Error('the link item kept changing'));
    }
  }

  return {
    async linkCreated(contactId, match, occurredAt) {
      const items = buildLinkItems(contactId, match, new Date(now()).toISOString());
      const taken = await Promise.all(items.map((item) => linkKey(item, occurredAt)));
      if (taken.includes(REDACTED)) return { linked: false, redacted: true };
      const other = taken.find((id) => id !== undefined);
      return other === undefined ? { linked: true } : { linked: false, contactId: other };
    },

    async claimCreation(match, claim) {
      const claimed: ItemKey[] = [];
      for (const key of orderedLinkKeys(match)) {
        const result = await claimKey(key, claim);
        if (result === 'claimed') {
          claimed.push(key);
          continue;
        }
        await Promise.all(claimed.map((done) => releaseKey(done, claim.owner)));
        return result === 'busy' ? { claimed: false } : { claimed: false, contactId: result.linked };
      }
      return { claimed: true };
    },

    async releaseCreation(match, owner) {
      await Promise.all(orderedLinkKeys(match).map((key) => releaseKey(key, owner)));
    },
  };
}
