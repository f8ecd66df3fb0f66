import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Clock, createIntervalPacer, type Pacer, type Sleep } from '../backfill/pacing.js';
import { DependencyError } from '../errors.js';
import { isConditionFailure } from './conditions.js';
import { pacerKey } from './state-keys.js';

/**
 * A request pacer shared by every container through the state table: one item per API account
 * holds `nextAt`, the earliest time the account's next request may start. A caller waits until
 * then and claims the moment it goes with a conditional UpdateItem (`nextAt <= now`, then
 * `nextAt = now + intervalMs`), so two backfills running at once (a scheduled run and a direct
 * invoke, in two containers) send at most one request per `intervalMs` to the account, not one
 * each. The slot is claimed when the caller goes, not reserved ahead: a container whose timer
 * fires late (its event loop busy mapping a page) pushes the schedule back instead of leaving
 * the next container's request closer behind its own.
 *
 * Within a container it is the interval pacer of pacing.ts: callers take turns in call order, each
 * at least `intervalMs` after the previous one of this container was let through.
 */

type Doc = Pick<DynamoDBDocumentClient, 'send'>;

/** How long an unused pacer item stays before DynamoDB's TTL removes it. */
const PACER_ITEM_TTL_SECONDS = 24 * 60 * 60;

/** Claims lost in a row before giving up: each one means another container just went. */
const MAX_CLAIM_ROUNDS = 50;

/**
 * A claim sets `nextAt` to its own clock plus one interval, so a `nextAt` further ahead than that
 * plus this allowance for clock differences cannot come from a claim (a test's clock against a
 * real table, a hand edit): it is overwritten instead of being waited for.
 */
const CLOCK_ALLOWANCE_MS = 60_000;

/**
 * Creates a pacer whose schedule is shared through the state table.
 * `name` keys the item: derive it from non-secret account facts (API base, secret id).
 * @throws {DependencyError} (retryable) from `acquire` when DynamoDB fails
 */
export function createSharedPacer(options: {
  client: Doc;
  tableName: string;
  name: string;
  intervalMs: number;
  now: Clock;
  sleep: Sleep;
}): Pacer {
  const { client, tableName, intervalMs, now, sleep } = options;
  const Key = pacerKey(options.name);

  /** Waits until the account is free at or after `notBefore`, and claims that moment. */
  async function claim(notBefore: number): Promise<number> {
    let freeAt = notBefore;
    for (let round = 0; round < MAX_CLAIM_ROUNDS; round++) {
      const wait = freeAt - now();
      if (wait > 0) await sleep(wait);
      const at = now();
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key,
            UpdateExpression: 'SET nextAt = :next, expiresAt = :expires',
            ConditionExpression: 'attribute_not_exists(nextAt) OR nextAt <= :at OR nextAt > :impossible',
            ExpressionAttributeValues: {
              ':at': at,
              ':impossible': at + intervalMs + CLOCK_ALLOWANCE_MS,
              ':next': at + intervalMs,
              ':expires': Math.ceil((at + intervalMs) / 1000) + PACER_ITEM_TTL_SECONDS,
            },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return at;
      } catch (error) {
        if (!isConditionFailure(error)) fail(error);
        // Another container went first: wait for the time it left for the next request.
        freeAt = Math.max(at + 1, storedNextAt(error) ?? at + intervalMs);
      }
    }
    throw new DependencyError(
      'dynamodb',
      `request pacer: lost ${MAX_CLAIM_ROUNDS} claims in a row (too many concurrent callers)`,
    );
  }

  return createIntervalPacer({ intervalMs, now, sleep, reserveSlot: claim });
}

/** `nextAt` of the item a refused claim saw (marshalled or plain, as the SDK hands it back). */
function storedNextAt(error: unknown): number | undefined {
  const value = (error as { Item?: { nextAt?: unknown } }).Item?.nextAt;
  const raw = typeof value === 'object' && value !== null ? (value as { N?: unknown }).N : value;
  const at = Number(raw);
  return raw === undefined || !Number.isFinite(at) ? undefined : at;
}

function fail(error: unknown): never {
  throw new DependencyError(
    'dynamodb',
    `request pacer: reserving a slot failed (${(error as Error).name ?? 'Error'})`,
    {
      cause: error,
    },
  );
}
