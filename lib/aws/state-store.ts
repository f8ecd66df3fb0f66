import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError, DependencyError } from '../errors.js';
import { type FieldVersion, type FieldVersions, mergeFieldVersions } from '../jobs/plan-patch.js';
import { contactFieldsKey, ledgerKey } from './state-keys.js';

/**
 * The worker's state: the ledger of applied jobIds (kept 30 days) and, per contact, the version
 * (source `occurredAt` + value hash) of every field last applied. One item per contact
 * (`contactFieldsKey`), written with an optimistic `revision` so two writers never lose an update.
 */

/** How long an applied jobId is remembered (DESIGN.md: 30 days). */
export const LEDGER_TTL_SECONDS = 30 * 24 * 60 * 60;

/** The stored versions of one contact and the revision they were read at (0: no item yet). */
export interface ContactVersions {
  readonly revision: number;
  readonly fields: FieldVersions;
}

export interface AppliedJob {
  readonly jobId: string;
  readonly contactId: string;
  readonly source: string;
  /** Versions of the fields this job sent or confirmed (empty for a job that changed nothing). */
  readonly versions: FieldVersions;
}

export interface StateStore {
  /** Whether this jobId is in the ledger. */
  isApplied(jobId: string): Promise<boolean>;
  /** The contact's field versions; `{ revision: 0, fields: {} }` when none are stored. */
  getFieldVersions(contactId: string): Promise<ContactVersions>;
  /**
   * Records a job as applied: the contact's field versions (`job.versions` is the complete map
   * to store: {@link recordAppliedJob} merges), conditional on `expected.revision`, then the
   * ledger entry.
   * @throws {ConflictError} when another writer changed the contact's versions since `expected` was read
   */
  putApplied(job: AppliedJob, expected: ContactVersions): Promise<void>;
}

/**
 * Records a job as applied, re-reading and merging the contact's versions after a lost race
 * (the later `occurredAt` of each field wins).
 * @throws {ConflictError} when the race is lost `attempts` times in a row
 */
export async function recordAppliedJob(
  store: StateStore,
  job: AppliedJob,
  options: { known?: ContactVersions; attempts?: number } = {},
): Promise<void> {
  const attempts = options.attempts ?? 5;
  let current = options.known ?? (await store.getFieldVersions(job.contactId));
  for (let attempt = 1; ; attempt++) {
    const versions = mergeFieldVersions(current.fields, job.versions);
    try {
      await store.putApplied({ ...job, versions }, current);
      return;
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= attempts) throw error;
      current = await store.getFieldVersions(job.contactId);
    }
  }
}

type Doc = Pick<DynamoDBDocumentClient, 'send'>;

function versionsChanged(stored: FieldVersions, next: FieldVersions): boolean {
  const fields = new Set([...Object.keys(stored), ...Object.keys(next)]);
  for (const field of fields) {
    const a = stored[field];
    const b = next[field];
    if (a?.occurredAt !== b?.occurredAt || a?.valueHash !== b?.valueHash || a?.jobId !== b?.jobId)
      return true;
  }
  return false;
}

function dependencyError(action: string, error: unknown): DependencyError {
  return new DependencyError(
    'dynamodb',
    `state store: ${action} failed (${(error as Error).name ?? 'Error'})`,
    {
      cause: error,
    },
  );
}

/** True when a conditional write lost its race. */
function isConditionFailure(error: unknown): boolean {
  return (error as { name?: string }).name === 'ConditionalCheckFailedException';
}

/**
 * The state store on the DynamoDB state table.
 * @throws {DependencyError} (retryable) from every method when DynamoDB fails
 */
export function createStateStore(options: {
  client: Doc;
  tableName: string;
  /** @default Date.now */
  now?: () => number;
}): StateStore {
  const { client, tableName } = options;
  const now = options.now ?? Date.now;

  return {
    async isApplied(jobId) {
      try {
        const out = await client.send(
          new GetCommand({
            TableName: tableName,
            Key: ledgerKey(jobId),
            ProjectionExpression: 'pk, expiresAt',
          }),
        );
        // TTL deletion runs up to days late: an entry past its expiry counts as gone already.
        const expiresAt = (out.Item as { expiresAt?: number } | undefined)?.expiresAt;
        return out.Item !== undefined && (expiresAt === undefined || expiresAt * 1000 > now());
      } catch (error) {
        throw dependencyError('ledger read', error);
      }
    },

    async getFieldVersions(contactId) {
      try {
        const out = await client.send(
          new GetCommand({ TableName: tableName, Key: contactFieldsKey(contactId), ConsistentRead: true }),
        );
        const item = out.Item as { revision?: number; fields?: Record<string, FieldVersion> } | undefined;
        return { revision: item?.revision ?? 0, fields: item?.fields ?? {} };
      } catch (error) {
        throw dependencyError('field versions read', error);
      }
    },

    async putApplied(job, expected) {
      const nowMs = now();
      const appliedAt = new Date(nowMs).toISOString();
      // Versions first, then the ledger, as two writes rather than one transaction: a crash in
      // between leaves versions without a ledger entry, and the redelivery then finds every field
      // a no-op and records the ledger without a request. (TransactWriteItems would also cost
      // twice the write units, and moto serialises it badly under concurrent writers.)
      // A job whose versions changed nothing (all fields stale) writes only its ledger entry.
      if (versionsChanged(expected.fields, job.versions)) {
        try {
          await client.send(
            new PutCommand({
              TableName: tableName,
              Item: {
                ...contactFieldsKey(job.contactId),
                contactId: job.contactId,
                revision: expected.revision + 1,
                fields: job.versions,
                updatedAt: appliedAt,
              },
              ...(expected.revision === 0
                ? { ConditionExpression: 'attribute_not_exists(pk)' }
                : {
                    ConditionExpression: '#revision = :revision',
                    ExpressionAttributeNames: { '#revision': 'revision' },
                    ExpressionAttributeValues: { ':revision': expected.revision },
                  }),
            }),
          );
        } catch (error) {
          if (isConditionFailure(error)) {
            throw new ConflictError(
              `contact ${job.contactId}: field versions changed while job was applied`,
              {
                cause: error,
              },
            );
          }
          throw dependencyError('field versions write', error);
        }
      }
      try {
        await client.send(
          new PutCommand({
            TableName: tableName,
            Item: {
              ...ledgerKey(job.jobId),
              contactId: job.contactId,
              source: job.source,
              appliedAt,
              expiresAt: Math.floor(nowMs / 1000) + LEDGER_TTL_SECONDS,
            },
          }),
        );
      } catch (error) {
        throw dependencyError('ledger write', error);
      }
    },
  };
}

/** The same store in memory (unit tests, the benchmark's in-memory run). */
export function createMemoryStateStore(): StateStore & {
  /** The ledger entries, for assertions. */
  ledger(): ReadonlyMap<string, { contactId: string; source: string }>;
} {
  const ledger = new Map<string, { contactId: string; source: string }>();
  const contacts = new Map<string, ContactVersions>();
  return {
    ledger: () => ledger,
    async isApplied(jobId) {
      return ledger.has(jobId);
    },
    async getFieldVersions(contactId) {
      return contacts.get(contactId) ?? { revision: 0, fields: {} };
    },
    async putApplied(job, expected) {
      if (versionsChanged(expected.fields, job.versions)) {
        const current = contacts.get(job.contactId)?.revision ?? 0;
        if (current !== expected.revision) {
          throw new ConflictError(`contact ${job.contactId}: field versions changed while job was applied`);
        }
        contacts.set(job.contactId, { revision: current + 1, fields: { ...job.versions } });
      }
      ledger.set(job.jobId, { contactId: job.contactId, source: job.source });
    },
  };
}
