import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError, DependencyError } from '../errors.js';
import { type FieldVersion, type FieldVersions, mergeFieldVersions } from '../jobs/plan-patch.js';
import { isConditionFailure } from './conditions.js';
import { contactFieldsKey, ledgerKey } from './state-keys.js';

/**
 * The worker's state: the ledger of applied jobIds (kept 30 days) and, per contact, the version
 * (source `occurredAt` + value hash) of every field last applied. One item per contact
 * (`contactFieldsKey`), written with an optimistic `revision` so two writers never lose an update.
 *
 * The same item carries the contact's lease (`leaseOwner`, `leaseUntil` in epoch ms): two Lambda
 * invocations can hold jobs for one contact under different FIFO groups, and the lease makes them
 * take turns across invocations. Taking it returns the versions (it replaces the plain read), the
 * versions write after a 2xx drops it, and every change of the lease bumps `revision`, so the
 * revision condition of the versions write is a compare-and-swap of the whole item.
 *
 * It also carries `unrecorded`: the jobs whose request may have changed the contact in ClearTalk
 * but which have not recorded their versions (a 2xx whose versions write failed, an answer lost).
 * Each entry is `<epoch ms>|<lease owner>|<jobId>`, one per attempt (the lease owner is unique per
 * job attempt), added when such an attempt gives the lease back, removed when that job records.
 * The worker puts the other jobs' entries into its Idempotency-Key (lib/jobs/apply.ts), so a
 * redelivery does not replay its first answer after someone else may have written over it.
 */

/** How long an applied jobId is remembered (DESIGN.md: 30 days). */
export const LEDGER_TTL_SECONDS = 30 * 24 * 60 * 60;

/** The stored versions of one contact and the revision they were read at (0: no item yet). */
export interface ContactVersions {
  readonly revision: number;
  readonly fields: FieldVersions;
  /** The lease on the item when it was read, if any (live or expired). */
  readonly lease?: ContactLease;
  /**
   * Job attempts that may have changed the contact without recording it, as
   * `<epoch ms>|<lease owner>|<jobId>`, sorted (see the module comment). Absent when there are none.
   */
  readonly unrecorded?: readonly string[];
}

/** How long an `unrecorded` entry is kept: SQS keeps a message (and a dead letter) at most 14 days. */
export const UNRECORDED_KEEP_MS = 14 * 24 * 60 * 60 * 1000;

/** The `unrecorded` entry of one job attempt (lease owners hold no `|`). */
function unrecordedEntry(atMs: number, owner: string, jobId: string): string {
  return `${atMs}|${owner}|${jobId}`;
}

/** The jobId of an `unrecorded` entry. */
export function unrecordedJobId(entry: string): string {
  return entry.slice(entry.indexOf('|', entry.indexOf('|') + 1) + 1);
}

/**
 * The `unrecorded` entries a versions write of `jobId` keeps: everybody else's, younger than
 * {@link UNRECORDED_KEEP_MS}.
 */
function keptUnrecorded(expected: ContactVersions, jobId: string, nowMs: number): string[] {
  return (expected.unrecorded ?? []).filter(
    (entry) =>
      unrecordedJobId(entry) !== jobId &&
      Number(entry.slice(0, entry.indexOf('|'))) > nowMs - UNRECORDED_KEEP_MS,
  );
}

/** Who may work on a contact, and until when (epoch ms; it expires by itself). */
export interface ContactLease {
  readonly owner: string;
  readonly untilMs: number;
}

/** The result of one attempt to take a contact's lease. */
export type LeaseAttempt =
  | { readonly acquired: true; readonly versions: ContactVersions }
  | { readonly acquired: false };

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
   * Takes the contact's lease when nobody else holds a live one (or `lease.owner` already does)
   * and returns the versions read in the same request.
   */
  acquireContactLease(contactId: string, lease: ContactLease): Promise<LeaseAttempt>;
  /**
   * Drops the contact's lease if `owner` still holds it (a no-op otherwise). With `unrecorded`,
   * the jobId of a job whose request may have changed the contact although it recorded nothing,
   * it adds that job to the contact's `unrecorded` entries in the same write.
   */
  releaseContactLease(contactId: string, owner: string, options?: { unrecorded?: string }): Promise<void>;
  /**
   * Records a job as applied: the contact's field versions (`job.versions` is the complete map
   * to store: {@link recordAppliedJob} merges), conditional on `expected.revision`, then the
   * ledger entry. The versions write drops the lease of `options.leaseOwner` (and is made even
   * when no version changed, to release it) and keeps anybody else's; it drops the job's own
   * `unrecorded` entries and keeps the others.
   * @throws {ConflictError} when another writer changed the contact's versions since `expected` was read
   */
  putApplied(job: AppliedJob, expected: ContactVersions, options?: PutAppliedOptions): Promise<void>;
}

export interface PutAppliedOptions {
  /** The owner of the lease this job holds on the contact: the write releases it. */
  readonly leaseOwner?: string;
}

/**
 * Records a job as applied, re-reading and merging the contact's versions after a lost race
 * (the later `occurredAt` of each field wins).
 * @throws {ConflictError} when the race is lost `attempts` times in a row
 */
export async function recordAppliedJob(
  store: StateStore,
  job: AppliedJob,
  options: { known?: ContactVersions; attempts?: number; leaseOwner?: string } = {},
): Promise<void> {
  const attempts = options.attempts ?? 5;
  const put = options.leaseOwner === undefined ? {} : { leaseOwner: options.leaseOwner };
  let current = options.known ?? (await store.getFieldVersions(job.contactId));
  for (let attempt = 1; ; attempt++) {
    const versions = mergeFieldVersions(current.fields, job.versions);
    try {
      await store.putApplied({ ...job, versions }, current, put);
      return;
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= attempts) throw error;
      current = await store.getFieldVersions(job.contactId);
    }
  }
}

type Doc = Pick<DynamoDBDocumentClient, 'send'>;

function versionsChanged(stored: FieldVersions, next: FieldVersions): boolean {
  let fields = 0;
  for (const field in next) {
    const a = stored[field];
    const b = next[field];
    if (a?.occurredAt !== b?.occurredAt || a?.valueHash !== b?.valueHash || a?.jobId !== b?.jobId)
      return true;
    fields++;
  }
  // Every field of `next` is in `stored` unchanged: equal unless `stored` has more.
  for (const _field in stored) if (--fields < 0) return true;
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

/**
 * Whether the versions item must be written: a version changed, the write releases the lease
 * this job holds, or it drops the job's own `unrecorded` entries.
 */
function mustWriteVersions(
  expected: ContactVersions,
  job: AppliedJob,
  leaseOwner: string | undefined,
): boolean {
  return (
    versionsChanged(expected.fields, job.versions) ||
    (leaseOwner !== undefined && expected.lease?.owner === leaseOwner) ||
    (expected.unrecorded?.some((entry) => unrecordedJobId(entry) === job.jobId) ?? false)
  );
}

/** The lease the versions write keeps: anybody's but the writer's own. */
function keptLease(expected: ContactVersions, leaseOwner?: string): ContactLease | undefined {
  return expected.lease && expected.lease.owner !== leaseOwner ? expected.lease : undefined;
}

type StoredContact = {
  revision?: number;
  fields?: Record<string, FieldVersion>;
  leaseOwner?: string;
  leaseUntil?: number;
  /** A string set (lib-dynamodb reads it as a Set). */
  unrecorded?: Set<string>;
};

function toContactVersions(item: StoredContact | undefined): ContactVersions {
  const versions: { revision: number; fields: FieldVersions; lease?: ContactLease; unrecorded?: string[] } = {
    revision: item?.revision ?? 0,
    fields: item?.fields ?? {},
  };
  if (typeof item?.leaseOwner === 'string' && typeof item.leaseUntil === 'number') {
    versions.lease = { owner: item.leaseOwner, untilMs: item.leaseUntil };
  }
  if (item?.unrecorded instanceof Set && item.unrecorded.size > 0)
    versions.unrecorded = [...item.unrecorded].sort();
  return versions;
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
        return toContactVersions(out.Item as StoredContact | undefined);
      } catch (error) {
        throw dependencyError('field versions read', error);
      }
    },

    async acquireContactLease(contactId, lease) {
      try {
        // One conditional UpdateItem both takes the lease and reads the versions (ALL_NEW): no
        // round trip more than the plain read it replaces. It creates the item when there is none.
        const out = await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: contactFieldsKey(contactId),
            UpdateExpression:
              'SET leaseOwner = :owner, leaseUntil = :until, contactId = :contactId ADD #revision :one',
            ConditionExpression:
              'attribute_not_exists(leaseUntil) OR leaseUntil < :now OR leaseOwner = :owner',
            ExpressionAttributeNames: { '#revision': 'revision' },
            ExpressionAttributeValues: {
              ':owner': lease.owner,
              ':until': lease.untilMs,
              ':contactId': contactId,
              ':now': now(),
              ':one': 1,
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { acquired: true, versions: toContactVersions(out.Attributes as StoredContact | undefined) };
      } catch (error) {
        if (isConditionFailure(error)) return { acquired: false };
        throw dependencyError('contact lease write', error);
      }
    },

    async releaseContactLease(contactId, owner, releaseOptions = {}) {
      const { unrecorded } = releaseOptions;
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: contactFieldsKey(contactId),
            UpdateExpression:
              unrecorded === undefined
                ? 'REMOVE leaseOwner, leaseUntil ADD #revision :one'
                : 'REMOVE leaseOwner, leaseUntil ADD #revision :one, unrecorded :entry',
            ConditionExpression: 'leaseOwner = :owner',
            ExpressionAttributeNames: { '#revision': 'revision' },
            ExpressionAttributeValues: {
              ':owner': owner,
              ':one': 1,
              ...(unrecorded === undefined
                ? {}
                : { ':entry': new Set([unrecordedEntry(now(), owner, unrecorded)]) }),
            },
          }),
        );
      } catch (error) {
        // Not ours any more (expired and taken, or already released): nothing to drop.
        if (isConditionFailure(error)) return;
        throw dependencyError('contact lease release', error);
      }
    },

    async putApplied(job, expected, options = {}) {
      const nowMs = now();
      const appliedAt = new Date(nowMs).toISOString();
      // Versions first, then the ledger, as two writes rather than one transaction: a crash in
      // between leaves versions without a ledger entry, and the redelivery then finds every field
      // a no-op and records the ledger without a request. (TransactWriteItems would also cost
      // twice the write units, and moto serialises it badly under concurrent writers.)
      // A job whose versions changed nothing (all fields stale) writes only its ledger entry,
      // unless it holds the lease: then this write is what releases it.
      if (mustWriteVersions(expected, job, options.leaseOwner)) {
        // A Put replaces the whole item: it drops our lease and, through `keptLease`, keeps one
        // taken by someone else (read at `expected.revision`; taking a lease bumps the revision);
        // likewise it drops our `unrecorded` entries and keeps the others'.
        const lease = keptLease(expected, options.leaseOwner);
        const unrecorded = keptUnrecorded(expected, job.jobId, nowMs);
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
                ...(lease ? { leaseOwner: lease.owner, leaseUntil: lease.untilMs } : {}),
                ...(unrecorded.length > 0 ? { unrecorded: new Set(unrecorded) } : {}),
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
export function createMemoryStateStore(
  options: {
    /** The lease clock. @default Date.now */
    now?: () => number;
  } = {},
): StateStore & {
  /** The ledger entries, for assertions. */
  ledger(): ReadonlyMap<string, { contactId: string; source: string }>;
} {
  const now = options.now ?? Date.now;
  const ledger = new Map<string, { contactId: string; source: string }>();
  const contacts = new Map<string, ContactVersions>();
  const read = (contactId: string): ContactVersions => contacts.get(contactId) ?? { revision: 0, fields: {} };
  return {
    ledger: () => ledger,
    async isApplied(jobId) {
      return ledger.has(jobId);
    },
    async getFieldVersions(contactId) {
      return read(contactId);
    },
    async acquireContactLease(contactId, lease) {
      const current = read(contactId);
      const held = current.lease;
      if (held && held.untilMs >= now() && held.owner !== lease.owner) return { acquired: false };
      const versions: ContactVersions = {
        revision: current.revision + 1,
        fields: current.fields,
        lease: { ...lease },
        ...(current.unrecorded ? { unrecorded: current.unrecorded } : {}),
      };
      contacts.set(contactId, versions);
      return { acquired: true, versions };
    },
    async releaseContactLease(contactId, owner, releaseOptions = {}) {
      const current = contacts.get(contactId);
      if (current?.lease?.owner !== owner) return;
      const entry =
        releaseOptions.unrecorded === undefined
          ? undefined
          : unrecordedEntry(now(), owner, releaseOptions.unrecorded);
      const unrecorded =
        entry === undefined
          ? current.unrecorded
          : [...new Set([...(current.unrecorded ?? []), entry])].sort();
      contacts.set(contactId, {
        revision: current.revision + 1,
        fields: current.fields,
        ...(unrecorded ? { unrecorded } : {}),
      });
    },
    async putApplied(job, expected, putOptions = {}) {
      if (mustWriteVersions(expected, job, putOptions.leaseOwner)) {
        const current = contacts.get(job.contactId)?.revision ?? 0;
        if (current !== expected.revision) {
          throw new ConflictError(`contact ${job.contactId}: field versions changed while job was applied`);
        }
        const lease = keptLease(expected, putOptions.leaseOwner);
        const unrecorded = keptUnrecorded(expected, job.jobId, now());
        contacts.set(job.contactId, {
          revision: current + 1,
          fields: { ...job.versions },
          ...(lease ? { lease } : {}),
          ...(unrecorded.length > 0 ? { unrecorded } : {}),
        });
      }
      ledger.set(job.jobId, { contactId: job.contactId, source: job.source });
    },
  };
}
