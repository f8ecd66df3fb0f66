import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError, DependencyError } from '../errors.js';
import { isConditionFailure } from './conditions.js';
import { checkpointKey } from './state-keys.js';

/**
 * Backfill checkpoints in the state table (`checkpoint#<source>#<scope>`). Every write is
 * conditional on the `revision` the writer read, so two overlapping runs cannot interleave
 * their progress: the slower one gets a `ConflictError` and stops instead of moving the
 * checkpoint backwards.
 */

/** A stored checkpoint: the source's own state (JSON) and its revision. */
export interface StoredCheckpoint<State> {
  readonly state: State;
  /** Starts at 1 and grows by one per write. */
  readonly revision: number;
  readonly updatedAt: string;
}

export interface CheckpointStore {
  /** Reads a checkpoint (strongly consistent); undefined when there is none yet. */
  get<State>(source: string, scope: string): Promise<StoredCheckpoint<State> | undefined>;
  /**
   * Writes a checkpoint if nobody wrote since `expectedRevision` (undefined: if none exists yet).
   * Returns the new revision.
   * @throws {ConflictError} when another run wrote it first
   * @throws {DependencyError} when DynamoDB cannot be reached
   */
  put<State>(
    source: string,
    scope: string,
    state: State,
    expectedRevision: number | undefined,
  ): Promise<number>;
}

type DocumentClient = Pick<DynamoDBDocumentClient, 'send'>;

/** Creates the DynamoDB-backed checkpoint store. */
export function createCheckpointStore(options: {
  client: DocumentClient;
  tableName: string;
  now?: () => number;
}): CheckpointStore {
  const now = options.now ?? Date.now;
  return {
    async get<State>(source: string, scope: string) {
      try {
        const out = await options.client.send(
          new GetCommand({
            TableName: options.tableName,
            Key: checkpointKey(source, scope),
            ConsistentRead: true,
          }),
        );
        const item = out.Item;
        if (!item) return undefined;
        return {
          state: JSON.parse(String(item.state)) as State,
          revision: Number(item.revision),
          updatedAt: String(item.updatedAt),
        };
      } catch (error) {
        throw toDependencyError(error, 'read');
      }
    },

    async put<State>(source: string, scope: string, state: State, expectedRevision: number | undefined) {
      const revision = (expectedRevision ?? 0) + 1;
      try {
        await options.client.send(
          new PutCommand({
            TableName: options.tableName,
            Item: {
              ...checkpointKey(source, scope),
              kind: 'checkpoint',
              // Stored as a JSON string: the state's shape is the source's business, not the table's.
              state: JSON.stringify(state),
              revision,
              updatedAt: new Date(now()).toISOString(),
            },
            ...(expectedRevision === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : {
                  ConditionExpression: '#revision = :expected',
                  ExpressionAttributeNames: { '#revision': 'revision' },
                  ExpressionAttributeValues: { ':expected': expectedRevision },
                }),
          }),
        );
        return revision;
      } catch (error) {
        if (isConditionFailure(error)) {
          throw new ConflictError(
            `checkpoint ${source}/${scope} was written by another run since revision ${expectedRevision ?? 'none'}`,
            { cause: error },
          );
        }
        throw toDependencyError(error, 'write');
      }
    },
  };
}

function toDependencyError(error: unknown, action: string): DependencyError {
  const name = (error as { name?: string }).name ?? 'Error';
  return new DependencyError('dynamodb', `could not ${action} a backfill checkpoint (${name})`, {
    cause: error,
  });
}
