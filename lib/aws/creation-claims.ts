import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DependencyError } from '../errors.js';
import { isConditionFailure } from './conditions.js';
import { type CreationClaim, type CreationClaims, orderedLinkKeys } from './links.js';
import type { ItemKey } from './state-keys.js';

/**
 * Creation claims on the DynamoDB state table (docs/worker.md, "Creating contacts"): the claim sits
 * on the link item of each key, as `claimOwner` / `claimUntil`, on an item without `contactId`, so
 * link lookups do not see it and the link `putLinks` writes later replaces it. Only the worker
 * claims, so this lives apart from the link store the webhook functions bundle.
 */

/** How long an abandoned claim-only item stays before DynamoDB's TTL removes it. */
const CLAIM_ITEM_TTL_SECONDS = 24 * 60 * 60;

type Doc = Pick<DynamoDBDocumentClient, 'send'>;

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

  /** Claims one key: 'claimed', 'busy' (another owner's live claim), or the contact it links to. */
  async function claimKey(
    key: ItemKey,
    claim: CreationClaim,
  ): Promise<'claimed' | 'busy' | { linked: string }> {
    try {
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: 'SET claimOwner = :owner, claimUntil = :until, expiresAt = :expires',
          ConditionExpression:
            'attribute_not_exists(contactId) AND (attribute_not_exists(claimOwner) OR claimUntil < :now OR claimOwner = :owner)',
          ExpressionAttributeValues: {
            ':owner': claim.owner,
            ':until': claim.untilMs,
            ':now': now(),
            ':expires': Math.ceil(claim.untilMs / 1000) + CLAIM_ITEM_TTL_SECONDS,
          },
        }),
      );
      return 'claimed';
    } catch (error) {
      if (!isConditionFailure(error)) fail('claim', error);
    }
    // Refused: linked by now, or claimed by another job.
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

  return {
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
