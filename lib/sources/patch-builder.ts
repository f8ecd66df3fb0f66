import type { ContactPatch, ContactStringField, CustomFieldValue } from '../cleartalk/schemas.js';
import type { Match, PatchJob } from '../jobs/patch-job.js';
import type { DroppedField, MapOutcome } from './outcome.js';

/** The parts of a PatchJob a mapper collects before `finishJob` checks and assembles them. */
export interface JobDraft {
  jobId: string;
  source: string;
  occurredAt: string;
  contactId?: string | undefined;
  match: { externalKey?: string | undefined; email?: string | undefined; phone?: string | undefined };
  fields: Partial<Record<ContactStringField, string>>;
  customField: Record<string, CustomFieldValue>;
  dropped: DroppedField[];
}

/** Applies the configured `listName`, `tag` and `contactSource` labels to a draft. */
export function applyLabels(
  draft: JobDraft,
  labels: { listName?: string | undefined; tag?: string | undefined; contactSource?: string | undefined },
): void {
  for (const key of ['listName', 'tag', 'contactSource'] as const) {
    const value = labels[key];
    if (value !== undefined && draft.fields[key] === undefined) draft.fields[key] = value;
  }
}

/** A "nothing to update" outcome. */
export function nothing(reason: string, dropped: DroppedField[]): MapOutcome {
  return { kind: 'nothing', reason, dropped };
}

/** PatchJobSchema's jobId limit (SQS message attributes and the ledger key stay bounded). */
const MAX_JOB_ID_LENGTH = 1024;

/**
 * Turns a draft into a PatchJob, or into `nothing` when it has no way to find the contact or
 * nothing to write. Every part of the draft is already normalised (emails, E.164 phones, UTC
 * instant, integer contact id), so the one PatchJobSchema rule left to check is the jobId
 * length, which depends on payload ids. Re-parsing with zod here would double the mapping cost
 * on the webhook path; the property test (mappers.property.test.ts) proves the jobs valid.
 */
export function finishJob(draft: JobDraft, emptyReason: string): MapOutcome {
  const patch: ContactPatch = {};
  for (const key of Object.keys(draft.fields) as ContactStringField[]) {
    const value = draft.fields[key];
    if (value !== undefined) patch[key] = value;
  }
  if (Object.keys(draft.customField).length > 0) patch.customField = draft.customField;
  if (Object.keys(patch).length === 0) return nothing(emptyReason, draft.dropped);

  const match: Match = {};
  if (draft.match.externalKey !== undefined) match.externalKey = draft.match.externalKey;
  if (draft.match.email !== undefined) match.email = draft.match.email;
  if (draft.match.phone !== undefined) match.phone = draft.match.phone;
  const hasMatch = Object.keys(match).length > 0;
  if (draft.contactId === undefined && !hasMatch) {
    return nothing('no contact id, email or phone to find the contact by', draft.dropped);
  }
  if (draft.jobId.length > MAX_JOB_ID_LENGTH) {
    return nothing(`the source ids make a jobId longer than ${MAX_JOB_ID_LENGTH} characters`, draft.dropped);
  }

  const job: PatchJob = {
    version: 1,
    jobId: draft.jobId,
    source: draft.source,
    ...(draft.contactId === undefined ? {} : { contactId: draft.contactId }),
    ...(hasMatch ? { match } : {}),
    patch,
    occurredAt: draft.occurredAt,
  };
  return { kind: 'job', job, dropped: draft.dropped };
}
