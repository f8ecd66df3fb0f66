import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { type CreationClaims, type LinkKeys, type LinkStore, redactedAfter } from '../aws/links.js';
import {
  type ContactVersions,
  recordAppliedJob,
  type StateStore,
  unrecordedJobId,
} from '../aws/state-store.js';
import { type ClearTalkClient, isIdempotencyKey } from '../cleartalk/client.js';
import {
  ClearTalkAuthError,
  ClearTalkError,
  ClearTalkInvalidResponseError,
  ClearTalkPermanentError,
  ClearTalkRetryableError,
  InvalidContactIdError,
} from '../cleartalk/errors.js';
import type { ContactPatch, CustomFieldValue } from '../cleartalk/schemas.js';
import { compileWhenHot } from '../compiled-schema.js';
import { describeIssues, SyncError, ValidationError } from '../errors.js';
import { sha256Hex } from '../hash.js';
import type { KeyedLock } from './keyed-lock.js';
import { type PatchJob, PatchJobSchema } from './patch-job.js';
import {
  customFieldVersionKey,
  DROP_REASONS,
  type DroppedPatchField,
  type FieldVersions,
  planPatch,
} from './plan-patch.js';

/**
 * Applies one PatchJob to ClearTalk (DESIGN.md "Worker semantics", steps 1–7): validate, resolve
 * the contact, skip a known jobId, drop stale and no-op fields, merge custom fields into the
 * contact's current ones, PATCH with `Idempotency-Key`, and record ledger, versions and links
 * only after ClearTalk accepted the change. Never throws: every path ends in an outcome.
 */

/** Dead-letter reasons (the `errorReason` attribute; DESIGN.md). */
export const DEAD_LETTER_REASONS = {
  invalidJob: 'invalid-job',
  unresolvedContact: 'unresolved-contact',
  contactNotFound: 'contact-not-found',
  rejected: 'rejected',
  invalidResponse: 'invalid-response',
  retriesExhausted: 'retries-exhausted',
} as const;

/**
 * The retry code of a job whose contact another invocation holds (its lease outlived our wait):
 * the record is handed back. Not a ClearTalk failure, so the circuit breaker does not count it.
 */
export const CONTACT_BUSY = 'contact-busy';

/** Ids of the job, for logs (never contact values). */
export interface JobRef {
  readonly jobId?: string;
  readonly source?: string;
  readonly contactId?: string;
}

/** What the job told about ClearTalk's health (for the circuit breaker). */
export type ClearTalkSignal = 'answered' | 'failed' | 'not-called';

export type ApplyOutcome =
  | {
      kind: 'applied';
      job: JobRef;
      /** Names of the fields sent (`customField.<key>` for custom fields). */
      sent: string[];
      dropped: DroppedPatchField[];
      /** The contact was created with `POST /contacts` (unresolved, source configured to create). */
      created: boolean;
      /**
       * A contact this job created that was left unlinked: the person's keys were linked to the
       * job's contact by someone else (a links import) while the POST ran. A duplicate to clean up.
       */
      unlinkedCreated?: string;
      clearTalk: ClearTalkSignal;
    }
  | { kind: 'duplicate'; job: JobRef; clearTalk: ClearTalkSignal }
  | {
      kind: 'skipped';
      job: JobRef;
      dropped: DroppedPatchField[];
      /** A contact this job created before its person was redacted, left unlinked (see `applied`). */
      unlinkedCreated?: string;
      clearTalk: ClearTalkSignal;
    }
  | {
      kind: 'dead-letter';
      job: JobRef;
      reason: string;
      status?: number;
      message: string;
      clearTalk: ClearTalkSignal;
    }
  | {
      kind: 'retry';
      job: JobRef;
      /** The error's stable code (`retryable`, `deadline-exceeded`, `auth`, `dependency-unavailable`…). */
      code: string;
      status?: number;
      message: string;
      error: unknown;
      clearTalk: ClearTalkSignal;
    };

export interface ApplyDeps {
  readonly clearTalk: Pick<ClearTalkClient, 'updateContact' | 'getContact' | 'createContact'>;
  readonly state: StateStore;
  /** Claims on the clock of `deadlineMs`: they expire at deadline + margin. */
  readonly links: Pick<LinkStore, 'lookup' | 'putLinks'> & CreationClaims;
  /** The source's policy (from the mapping configuration's `sourcePolicy`). */
  readonly policy: (source: string) => { createIfUnresolved: boolean };
  /** Absolute epoch ms (on the ClearTalk client's clock) by which requests must end. */
  readonly deadlineMs: number;
  /** Serialises work on one contact within the invocation. @default no lock */
  readonly lock?: KeyedLock;
  /** The cross-invocation contact lease (its timing; the lease itself is always taken). */
  readonly lease?: ContactLeaseOptions;
  /**
   * How long the creation claims stay after a `POST /contacts` whose outcome is unknown; longer
   * than the queue's visibility timeout. @default 900_000 (15 min)
   */
  readonly creationHoldMs?: number;
}

/** How the worker waits for, and how long it holds, a contact's lease. */
export interface ContactLeaseOptions {
  /** Longest wait for another invocation's lease before handing the record back. @default 3_000 */
  readonly waitMs?: number;
  /**
   * Added to `deadlineMs` for the lease's expiry: it covers the recording after the last request,
   * and a Lambda that dies leaves a lease that expires by itself. @default 10_000
   */
  readonly marginMs?: number;
  /** The clock of `deadlineMs` and of the state store. @default Date.now */
  readonly now?: () => number;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** A fresh owner id per job attempt. @default {@link newOwnerId} */
  readonly newOwner?: () => string;
}

/**
 * How far ahead of the worker's clock a job's `occurredAt` may be. A change cannot happen in the
 * future: a later `occurredAt` is a producer's clock or a bug, and applying it would make every
 * real change of its fields stale until that time (DESIGN.md step 4). Clock skew is seconds.
 */
export const MAX_OCCURRED_AHEAD_MS = 24 * 60 * 60 * 1000;

const LEASE_WAIT_MS = 3_000;
const LEASE_MARGIN_MS = 10_000;

/**
 * The lease margin for a worker that keeps `safetyMs` (DEADLINE_SAFETY_MS) of Lambda's time back
 * after `deadlineMs`: the function may run until deadline + safetyMs (recording after its last
 * request), so the lease must outlive that, with room to spare; never less than the default.
 */
export function leaseMarginFor(safetyMs: number): number {
  return Math.max(LEASE_MARGIN_MS, safetyMs + 5_000);
}
const LEASE_FIRST_BACKOFF_MS = 50;
const LEASE_MAX_BACKOFF_MS = 500;
// Longer than the patch queue's visibility timeout (6 x the worker's 60 s timeout): the creator's
// redelivery comes back before another group's job may take the claim over.
const CREATION_HOLD_MS = 15 * 60_000;
const defaultSleep = (ms: number): Promise<void> => delay(ms);

// Owner ids of leases and creation claims: unique per job attempt across every container, as a
// random id per container plus a counter (a random UUID per job cost more than the rest of the id).
const CONTAINER_ID = randomUUID();
let ownerCount = 0;

/** A lease or claim owner id no other job attempt, here or in another container, has. */
export function newOwnerId(): string {
  ownerCount++;
  return `${CONTAINER_ID}:${ownerCount}`;
}

// Parsed once per job: zod's compiled fast path once hot (lib/compiled-schema.ts).
const patchJobSchema = compileWhenHot(PatchJobSchema);

/**
 * The `Idempotency-Key` of one request for a job: the jobId (its hash when it cannot be a header),
 * plus, for a PATCH, `#` and a digest of the exact body. Every attempt of one call, and every
 * redelivery that computes the same body, sends the same key. The body can change between
 * deliveries (the custom-field merge reads the contact, and another source may have written to it
 * in between; a field may since have become stale): reusing the key with a different body is what
 * idempotent APIs refuse (the sandbox answers 422), and that would dead-letter a valid job.
 * `basis` ({@link versionBasis}) goes into the digest with the body.
 */
export function idempotencyKeyFor(
  jobId: string,
  options: { prefix?: string; body?: unknown; basis?: string } = {},
): string {
  const prefix = options.prefix ?? '';
  const suffix = options.body === undefined ? '' : `#${bodyDigest(options.body, options.basis)}`;
  const key = `${prefix}${jobId}${suffix}`;
  return isIdempotencyKey(key) ? key : `${prefix}sha256:${sha256Hex(jobId)}${suffix}`;
}

/**
 * 64 bits of SHA-256 over the body with object keys sorted, so equal bodies give equal digests,
 * and over the basis (see {@link versionBasis}) when there is one.
 */
function bodyDigest(body: unknown, basis?: string): string {
  const json = canonicalJson(body);
  return sha256Hex(basis ? `${json}\n${basis}` : json).slice(0, 16);
}

/**
 * The recorded versions the PATCH was planned against, for the sent fields that have one (empty
 * when none has): part of the Idempotency-Key. A redelivery after a 2xx whose recording failed
 * computes the same body; if another job (another message group) changed one of those fields in
 * between, an equal key would make ClearTalk replay the first answer without applying the body
 * again, and the other job's older value would stay while the versions say ours. With the basis
 * in the key, the same body is replayed only while nobody recorded a change to its fields.
 */
export function versionBasis(
  patch: ContactPatch,
  stored: FieldVersions,
  unrecorded: readonly string[] = [],
): string {
  // Other jobs that may have written to the contact without recording it: the same body is
  // replayed only while that list is unchanged too (two unrecorded answers in a row, see
  // lib/aws/state-store.ts).
  let basis = unrecorded.length === 0 ? '' : `unrecorded:${unrecorded.join(',')}\n`;
  for (const field of Object.keys(patch)) {
    if (field === 'customField') {
      for (const key of Object.keys(patch.customField ?? {})) {
        basis += basisLine(customFieldVersionKey(key), stored);
      }
    } else {
      basis += basisLine(field, stored);
    }
  }
  return basis;
}

/** The contact's `unrecorded` entries of jobs other than `jobId` (sorted, as stored). */
function othersUnrecorded(known: ContactVersions, jobId: string): readonly string[] {
  return known.unrecorded?.filter((entry) => unrecordedJobId(entry) !== jobId) ?? [];
}

function basisLine(versionKey: string, stored: FieldVersions): string {
  const version = stored[versionKey];
  return version ? `${JSON.stringify(versionKey)}:${version.jobId}:${version.valueHash}\n` : '';
}

/**
 * `JSON.stringify(value)` with the keys of every object in sorted order (the digest's input).
 * Written out rather than as a `JSON.stringify` replacer that rebuilds each object sorted: this
 * runs for every PATCH, and the replacer form cost about twice as much.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return canonicalJson((value as { toJSON: () => unknown }).toJSON());
  }
  if (Array.isArray(value)) {
    return `[${value.map((item) => (item === undefined || typeof item === 'function' ? 'null' : canonicalJson(item))).join(',')}]`;
  }
  const record = value as Record<string, unknown>;
  let out = '';
  for (const key of sortedKeys(record)) {
    const item = record[key];
    if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
    out += `${out === '' ? '' : ','}${JSON.stringify(key)}:${canonicalJson(item)}`;
  }
  return `{${out}}`;
}

// An array index as V8 orders object keys: such keys always come first, in numeric order.
const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,9})$/;

/**
 * The keys in the order the first digest produced (a sorted object rebuilt by V8): array-index
 * keys first, ascending, as `Object.keys` already lists them; then the others sorted.
 */
function sortedKeys(record: object): string[] {
  const keys = Object.keys(record);
  let indexKeys = 0;
  while (indexKeys < keys.length && isArrayIndex(keys[indexKeys] as string)) indexKeys++;
  if (indexKeys === 0) return keys.sort();
  return [...keys.slice(0, indexKeys), ...keys.slice(indexKeys).sort()];
}

function isArrayIndex(key: string): boolean {
  return ARRAY_INDEX.test(key) && Number(key) < 4_294_967_295;
}

/** Validates the body of an SQS message as a PatchJob. */
export function parsePatchJob(body: string): { ok: true; job: PatchJob } | { ok: false; message: string } {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return { ok: false, message: 'the message body is not JSON' };
  }
  const parsed = patchJobSchema.safeParse(data);
  if (!parsed.success) {
    return { ok: false, message: `not a valid PatchJob: ${describeIssues(parsed.error.issues).join('; ')}` };
  }
  return { ok: true, job: parsed.data };
}

/** Applies the job in `body`; see the module comment. */
export async function applyPatchJob(body: string, deps: ApplyDeps): Promise<ApplyOutcome> {
  const parsed = parsePatchJob(body);
  if (!parsed.ok) {
    const job = peekJobRef(body);
    return {
      kind: 'dead-letter',
      job,
      reason: DEAD_LETTER_REASONS.invalidJob,
      message: parsed.message,
      clearTalk: 'not-called',
    };
  }
  const { job } = parsed;
  const ref: JobRef = {
    jobId: job.jobId,
    source: job.source,
    ...(job.contactId ? { contactId: job.contactId } : {}),
  };
  const aheadMs = Date.parse(job.occurredAt) - (deps.lease?.now ?? Date.now)();
  if (aheadMs > MAX_OCCURRED_AHEAD_MS) {
    return {
      kind: 'dead-letter',
      job: ref,
      reason: DEAD_LETTER_REASONS.invalidJob,
      message: `occurredAt ${job.occurredAt} is ${Math.round(aheadMs / 3_600_000)} h ahead of the worker's clock (at most 24 h is accepted); correct the producer's clock and send the change again (a redrive resends this body unchanged)`,
      clearTalk: 'not-called',
    };
  }
  try {
    let contactId = job.contactId;
    if (contactId === undefined) {
      // The ledger before the link lookups: a duplicate needs none, and stays a duplicate even
      // when its links were removed since (a Shopify redact).
      if (await deps.state.isApplied(job.jobId))
        return { kind: 'duplicate', job: ref, clearTalk: 'not-called' };
      const found = job.match ? await deps.links.lookup(job.match) : {};
      contactId = found.contactId;
      if (contactId === undefined) return await handleUnresolved(job, ref, deps, found.redactedAt);
    }
    // With a contactId in the job, the ledger is read together with the versions (one round trip).
    return await applyResolved(job, ref, contactId, deps, job.contactId !== undefined);
  } catch (error) {
    return toFailureOutcome(ref, error);
  }
}

/** Applies the job to `contactId`, one job per contact at a time within the invocation. */
function applyResolved(
  job: PatchJob,
  ref: JobRef,
  contactId: string,
  deps: ApplyDeps,
  checkLedger: boolean,
): Promise<ApplyOutcome> {
  const leased = { ...ref, contactId };
  return deps.lock
    ? deps.lock.run(contactId, () => applyToContact(job, leased, deps, checkLedger))
    : applyToContact(job, leased, deps, checkLedger);
}

async function applyToContact(
  job: PatchJob,
  ref: JobRef & { contactId: string },
  deps: ApplyDeps,
  checkLedger: boolean,
): Promise<ApplyOutcome> {
  const { contactId } = ref;
  const owner = (deps.lease?.newOwner ?? newOwnerId)();
  // The lease comes with the versions (one request, in place of the plain read), alongside the
  // ledger read when the job names its contact. Both settle before either outcome is acted on.
  // (Not Promise.allSettled: the same order of settling and errors, fewer allocations per job.)
  const ledger = checkLedger ? deps.state.isApplied(job.jobId) : undefined;
  // Observed at once, so a ledger failure is never an unhandled rejection while the lease runs.
  ledger?.catch(() => undefined);
  let known: ContactVersions | undefined;
  let leaseFailure: { error: unknown } | undefined;
  try {
    known = await acquireLease(contactId, owner, deps);
  } catch (error) {
    leaseFailure = { error };
  }
  let applied = false;
  if (ledger) {
    try {
      applied = await ledger;
    } catch (error) {
      // The ledger's error wins, as it did with allSettled; a lease taken is given back.
      if (known) await releaseLease(deps, contactId, owner);
      throw error;
    }
  }
  if (leaseFailure) throw leaseFailure.error;
  if (applied) {
    if (known) await releaseLease(deps, contactId, owner);
    return { kind: 'duplicate', job: ref, clearTalk: 'not-called' };
  }
  if (!known) {
    return {
      kind: 'retry',
      job: ref,
      code: CONTACT_BUSY,
      message: `contact ${contactId} is being changed by another invocation (lease held); handed back`,
      error: undefined,
      clearTalk: 'not-called',
    };
  }
  const progress = { sent: false };
  try {
    return await applyLeased(job, ref, deps, known, owner, progress);
  } catch (error) {
    // Every failure and dead-letter path gives the contact back at once (a success released it
    // in the versions write). A PATCH that may have been applied (a 2xx whose recording failed,
    // an answer that never came) leaves the job among the contact's `unrecorded` entries, which
    // other jobs' Idempotency-Keys include (see versionBasis).
    const unrecorded = progress.sent && !appliedNothing(error) ? job.jobId : undefined;
    await releaseLease(deps, contactId, owner, unrecorded);
    throw error;
  }
}

/**
 * Takes the contact's lease, waiting with a short capped backoff while another invocation holds
 * it, for at most `waitMs` and never past the deadline.
 * @returns the versions read with the lease, or undefined when the contact stayed busy
 */
async function acquireLease(
  contactId: string,
  owner: string,
  deps: ApplyDeps,
): Promise<ContactVersions | undefined> {
  const now = deps.lease?.now ?? Date.now;
  const sleep = deps.lease?.sleep ?? defaultSleep;
  const waitMs = deps.lease?.waitMs ?? LEASE_WAIT_MS;
  const untilMs = deps.deadlineMs + (deps.lease?.marginMs ?? LEASE_MARGIN_MS);
  const start = now();
  for (let backoff = LEASE_FIRST_BACKOFF_MS; ; backoff = Math.min(backoff * 2, LEASE_MAX_BACKOFF_MS)) {
    const attempt = await deps.state.acquireContactLease(contactId, { owner, untilMs });
    if (attempt.acquired) return attempt.versions;
    const at = now();
    if (at - start + backoff > waitMs || at + backoff >= deps.deadlineMs) return undefined;
    await sleep(backoff);
  }
}

/** Gives the lease back; a failure is left to the lease's expiry (the outcome stands). */
async function releaseLease(
  deps: ApplyDeps,
  contactId: string,
  owner: string,
  unrecorded?: string,
): Promise<void> {
  try {
    await deps.state.releaseContactLease(
      contactId,
      owner,
      unrecorded === undefined ? undefined : { unrecorded },
    );
  } catch {
    // The lease expires by itself at deadline + margin.
  }
}

async function applyLeased(
  job: PatchJob,
  ref: JobRef & { contactId: string },
  deps: ApplyDeps,
  known: ContactVersions,
  owner: string,
  progress: { sent: boolean },
): Promise<ApplyOutcome> {
  const { contactId } = ref;
  const plan = planPatch({
    patch: job.patch,
    occurredAt: job.occurredAt,
    jobId: job.jobId,
    stored: known.fields,
  });
  const dropped = [...plan.dropped];
  if (plan.patch === undefined) {
    await recordAppliedJob(
      deps.state,
      { jobId: job.jobId, contactId, source: job.source, versions: plan.versions },
      { known, leaseOwner: owner },
    );
    if (job.match) await deps.links.putLinks(contactId, job.match, { occurredAt: job.occurredAt });
    return { kind: 'skipped', job: ref, dropped, clearTalk: 'not-called' } satisfies ApplyOutcome;
  }

  let patch: ContactPatch = plan.patch;
  if (patch.customField) {
    // The API does not say PATCH merges nested objects (the sandbox replaces them), so send the
    // contact's current custom fields with ours on top: keys other sources set survive.
    const current = await deps.clearTalk.getContact(contactId, { deadlineMs: deps.deadlineMs });
    patch = { ...patch, customField: mergeCustomFields(current.customField, patch.customField) };
  }
  progress.sent = true;
  await deps.clearTalk.updateContact(contactId, patch, {
    idempotencyKey: idempotencyKeyFor(job.jobId, {
      body: patch,
      basis: versionBasis(plan.patch, known.fields, othersUnrecorded(known, job.jobId)),
    }),
    deadlineMs: deps.deadlineMs,
  });
  // Only now, after a 2xx: a failure before this point leaves no trace, so a redelivery retries.
  // The versions write also releases the lease (no extra request on the success path).
  await recordAppliedJob(
    deps.state,
    { jobId: job.jobId, contactId, source: job.source, versions: plan.versions },
    { known, leaseOwner: owner },
  );
  // A key whose link was removed after this change (a redact while the PATCH ran) stays unlinked.
  if (job.match) await deps.links.putLinks(contactId, job.match, { occurredAt: job.occurredAt });
  return {
    kind: 'applied',
    job: ref,
    sent: sentFieldNames(plan.patch),
    dropped,
    created: false,
    clearTalk: 'answered',
  } satisfies ApplyOutcome;
}

/** `redactedAt`: the latest removal of the job's keys' links, from the same lookup ({@link LinkLookup}). */
async function handleUnresolved(
  job: PatchJob,
  ref: JobRef,
  deps: ApplyDeps,
  redactedAt: string | undefined,
): Promise<ApplyOutcome> {
  // A change from before its person's links were removed (customers/redact, customers/delete,
  // shop/redact) is neither applied nor dead-lettered: a redrive must not bring it back either.
  if (redactedAfter(redactedAt, job.occurredAt)) return redactedOutcome(job, ref);
  if (!deps.policy(job.source).createIfUnresolved || !job.match) {
    return {
      kind: 'dead-letter',
      job: ref,
      reason: DEAD_LETTER_REASONS.unresolvedContact,
      message: `no contact is linked to the job's ${matchKinds(job)}; import links (npm run links) and redrive`,
      clearTalk: 'not-called',
    };
  }
  // Claim the person's keys first: another job for the same new person (another FIFO group, say
  // keyed by email where this one is keyed by external key) must not create a second contact.
  // The claim belongs to the job, not to this attempt: after a POST whose outcome is unknown the
  // job's redelivery takes its claim back and repeats the POST with the same Idempotency-Key.
  const claimOwner = `job:${job.jobId}`;
  const untilMs = deps.deadlineMs + (deps.lease?.marginMs ?? LEASE_MARGIN_MS);
  const claim = await deps.links.claimCreation(job.match, {
    owner: claimOwner,
    untilMs,
    occurredAt: job.occurredAt,
  });
  if (!claim.claimed) {
    // Linked since the lookup: an ordinary update of that contact (the ledger was checked).
    if (claim.contactId !== undefined) return await applyResolved(job, ref, claim.contactId, deps, false);
    return busyCreating(job, ref);
  }
  let contactId: string;
  try {
    const contact = await deps.clearTalk.createContact(job.patch, {
      idempotencyKey: idempotencyKeyFor(job.jobId, { prefix: 'create:' }),
      deadlineMs: deps.deadlineMs,
    });
    contactId = String(contact.id);
  } catch (error) {
    if (appliedNothing(error)) await releaseCreation(deps, job.match, claimOwner);
    else await holdCreation(deps, job.match, job.occurredAt, claimOwner);
    throw error;
  }
  // The new contact's lease before its links: a job of another group that finds a link must wait
  // for this job's versions, or it would plan against none and could send older values over the
  // ones just created. Nobody else knows the contact yet, so the lease is free.
  const leaseOwner = (deps.lease?.newOwner ?? newOwnerId)();
  const ledgerRef = { ...ref, contactId };
  let linkedElsewhere: string | undefined;
  let redactedMeanwhile = false;
  try {
    const lease = await deps.state.acquireContactLease(contactId, { owner: leaseOwner, untilMs });
    if (!lease.acquired) {
      // Cannot happen for a contact nobody knows yet; should it, the redelivery takes over.
      await holdCreation(deps, job.match, job.occurredAt, claimOwner);
      return busyCreating(job, ledgerRef);
    }
    // Link next (which also ends the claim): should the versions or ledger write fail, the
    // redelivery resolves to this contact instead of creating another one. A key linked to another
    // contact meanwhile (a links import, a job that named its contact) keeps that link: the job
    // goes to that contact, and the one just created is left as a duplicate nobody links to.
    const linked = await deps.links.linkCreated(contactId, job.match, job.occurredAt);
    if (linked.linked) {
      const plan = planPatch({ patch: job.patch, occurredAt: job.occurredAt, jobId: job.jobId, stored: {} });
      // The versions write also releases the lease.
      await recordAppliedJob(
        deps.state,
        { jobId: job.jobId, contactId, source: job.source, versions: plan.versions },
        { known: lease.versions, leaseOwner },
      );
    } else if ('redacted' in linked) {
      redactedMeanwhile = true;
    } else {
      linkedElsewhere = linked.contactId;
    }
  } catch (error) {
    await releaseLease(deps, contactId, leaseOwner);
    // The contact exists: keep the claims (those not yet replaced by links) for the redelivery.
    await holdCreation(deps, job.match, job.occurredAt, claimOwner);
    throw error;
  }
  if (redactedMeanwhile) {
    // The person was redacted while their contact was being created: no versions, no ledger; the
    // contact stays in ClearTalk unlinked, named in the log for an operator.
    await releaseLease(deps, contactId, leaseOwner);
    return { ...redactedOutcome(job, ledgerRef), unlinkedCreated: contactId, clearTalk: 'answered' };
  }
  if (linkedElsewhere !== undefined) {
    await releaseLease(deps, contactId, leaseOwner);
    // The keys linked to the new contact above move to that contact first, so a redelivery
    // resolves there whichever key it finds first; then an ordinary update of it (the ledger was
    // checked).
    await deps.links.putLinks(linkedElsewhere, job.match, { occurredAt: job.occurredAt });
    const outcome = await applyResolved(job, ref, linkedElsewhere, deps, false);
    return outcome.kind === 'applied' ? { ...outcome, unlinkedCreated: contactId } : outcome;
  }
  return {
    kind: 'applied',
    job: ledgerRef,
    sent: sentFieldNames(job.patch),
    dropped: [],
    created: true,
    clearTalk: 'answered',
  };
}

/** A job whose person was redacted after the change: every field dropped as `redacted`. */
function redactedOutcome(job: PatchJob, ref: JobRef): Extract<ApplyOutcome, { kind: 'skipped' }> {
  return {
    kind: 'skipped',
    job: ref,
    dropped: sentFieldNames(job.patch).map((field) => ({ field, reason: DROP_REASONS.redacted })),
    clearTalk: 'not-called',
  };
}

function busyCreating(job: PatchJob, ref: JobRef): ApplyOutcome {
  return {
    kind: 'retry',
    job: ref,
    code: CONTACT_BUSY,
    message: `another job is creating the contact for the job's ${matchKinds(job)}; handed back`,
    error: undefined,
    clearTalk: 'not-called',
  };
}

/**
 * Whether a failed `POST /contacts` certainly created nothing, or a failed PATCH certainly changed
 * nothing: ClearTalk refused it (4xx, the key) or it was never sent (the body failed validation).
 * After anything else (a timeout, a 5xx, a 2xx with an unreadable body, a 2xx whose recording
 * failed) the contact may exist, or have changed.
 */
function appliedNothing(error: unknown): boolean {
  return (
    error instanceof ClearTalkPermanentError ||
    error instanceof ClearTalkAuthError ||
    error instanceof ValidationError ||
    error instanceof InvalidContactIdError
  );
}

/**
 * Keeps a creation claim after a POST whose outcome is unknown, for `creationHoldMs` (longer than
 * the queue's visibility timeout): the job's redelivery takes it back and repeats the POST with the
 * same Idempotency-Key, which ClearTalk answers with the contact it may have created. Meanwhile
 * jobs of other groups for the person are handed back instead of creating a second contact.
 */
async function holdCreation(
  deps: ApplyDeps,
  match: LinkKeys,
  occurredAt: string,
  owner: string,
): Promise<void> {
  const now = deps.lease?.now ?? Date.now;
  try {
    await deps.links.claimCreation(match, {
      owner,
      untilMs: now() + (deps.creationHoldMs ?? CREATION_HOLD_MS),
      occurredAt,
    });
  } catch {
    // The claim keeps its first expiry (deadline + margin).
  }
}

/** Gives a creation claim back; a failure is left to the claim's expiry (the outcome stands). */
async function releaseCreation(deps: ApplyDeps, match: LinkKeys, owner: string): Promise<void> {
  try {
    await deps.links.releaseCreation(match, owner);
  } catch {
    // The claim expires by itself at deadline + margin.
  }
}

/** The contact's current custom fields with the patch's keys on top, keys sorted (stable bodies). */
export function mergeCustomFields(
  current: Record<string, unknown> | null | undefined,
  patch: Record<string, CustomFieldValue>,
): Record<string, CustomFieldValue> {
  const merged: Record<string, unknown> = { ...(current ?? {}), ...patch };
  // Sorted so a redelivery sends the same bytes with the same Idempotency-Key.
  return Object.fromEntries(
    Object.keys(merged)
      .sort()
      .map((key) => [key, merged[key]]),
  ) as Record<string, CustomFieldValue>;
}

function sentFieldNames(patch: ContactPatch): string[] {
  const names: string[] = [];
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (field === 'customField')
      names.push(...Object.keys(value as object).map((key) => `customField.${key}`));
    else names.push(field);
  }
  return names;
}

function matchKinds(job: PatchJob): string {
  const kinds = Object.entries(job.match ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([kind]) => kind);
  return kinds.join(', ') || 'match';
}

/** Maps an error to the outcome DESIGN.md asks for: permanent answers dead-letter, the rest retry. */
function toFailureOutcome(job: JobRef, error: unknown): ApplyOutcome {
  const status = error instanceof ClearTalkError ? error.status : undefined;
  const withStatus = status === undefined ? {} : { status };
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ClearTalkPermanentError) {
    return { kind: 'dead-letter', job, reason: error.code, ...withStatus, message, clearTalk: 'answered' };
  }
  if (error instanceof ClearTalkInvalidResponseError) {
    return {
      kind: 'dead-letter',
      job,
      reason: DEAD_LETTER_REASONS.invalidResponse,
      ...withStatus,
      message,
      clearTalk: 'answered',
    };
  }
  if (error instanceof InvalidContactIdError) {
    return {
      kind: 'dead-letter',
      job,
      reason: DEAD_LETTER_REASONS.invalidJob,
      message,
      clearTalk: 'not-called',
    };
  }
  if (error instanceof ValidationError) {
    // The job passed validation, so this is the merged body: the contact's current custom fields
    // hold something the PATCH body cannot carry. A retry would send the same.
    return {
      kind: 'dead-letter',
      job,
      reason: DEAD_LETTER_REASONS.rejected,
      message,
      clearTalk: 'not-called',
    };
  }
  const failed = error instanceof ClearTalkRetryableError && !(error instanceof ClearTalkAuthError);
  const code = error instanceof SyncError ? error.code : 'unexpected';
  return {
    kind: 'retry',
    job,
    code,
    ...withStatus,
    message,
    error,
    clearTalk: failed ? 'failed' : error instanceof ClearTalkAuthError ? 'answered' : 'not-called',
  };
}

/** Ids from a body that is not a valid PatchJob, when present and short, for logs. */
function peekJobRef(body: string): JobRef {
  try {
    const data = JSON.parse(body) as { jobId?: unknown; source?: unknown };
    const ref: { jobId?: string; source?: string } = {};
    if (typeof data.jobId === 'string' && data.jobId.length <= 1024) ref.jobId = data.jobId;
    if (typeof data.source === 'string' && data.source.length <= 100) ref.source = data.source;
    return ref;
  } catch {
    return {};
  }
}
