import { canonicalInstant, compareInstants } from '../calendar.js';
import { CONTACT_STRING_FIELDS, type ContactPatch, type CustomFieldValue } from '../cleartalk/schemas.js';
import { sha256Hex } from '../hash.js';

/**
 * Stale and no-op decisions for one PatchJob (DESIGN.md "Worker semantics", step 4), as a pure
 * function over the versions the state table holds for the contact.
 */

/** What the state table remembers about the last applied value of one field. */
export interface FieldVersion {
  /** When the change happened at its source (UTC ISO instant). */
  readonly occurredAt: string;
  /** {@link hashFieldValue} of the value last applied: equality without keeping contact values. */
  readonly valueHash: string;
  /** The job that applied it (for operators). */
  readonly jobId: string;
}

/** Field versions keyed by field name; custom fields as `customField.<key>`. */
export type FieldVersions = Readonly<Record<string, FieldVersion>>;

/**
 * Why a field is left out: `stale` (a later change is recorded), `no-op` (the value last applied),
 * `redacted` (the whole job: its person was redacted after the change; see lib/aws/links.ts).
 */
export const DROP_REASONS = { stale: 'stale', noOp: 'no-op', redacted: 'redacted' } as const;
export type DropReason = (typeof DROP_REASONS)[keyof typeof DROP_REASONS];

/** A field left out of the request: its name (never its value) and why. */
export interface DroppedPatchField {
  readonly field: string;
  readonly reason: DropReason;
}

export interface PatchPlan {
  /** The fields to send, or undefined when nothing is left (no request is made). */
  readonly patch: ContactPatch | undefined;
  /** The versions to record once ClearTalk accepted the patch (sent and no-op fields). */
  readonly versions: Record<string, FieldVersion>;
  readonly dropped: readonly DroppedPatchField[];
}

/** The version key of a custom field. */
export function customFieldVersionKey(key: string): string {
  return `customField.${key}`;
}

/**
 * A short, stable hash of a field value (JSON of the value, SHA-256, 128 bits). Enough to tell
 * "same value again" apart without storing the value.
 */
export function hashFieldValue(value: string | CustomFieldValue): string {
  return sha256Hex(JSON.stringify(value)).slice(0, 32);
}

/**
 * Decides, field by field, what of `patch` still needs sending: a field whose stored version
 * comes from a later `occurredAt` is dropped as stale; a field whose value hash equals the one
 * last applied is dropped as a no-op. An equal `occurredAt` is not stale: within a FIFO group
 * the later-processed job wins. No-op fields still have their version moved forward, so that a
 * late, older change cannot overwrite a value a newer change confirmed.
 */
export function planPatch(input: {
  readonly patch: ContactPatch;
  /** The job's `occurredAt` (any ISO timestamp with offset). */
  readonly occurredAt: string;
  readonly jobId: string;
  readonly stored: FieldVersions;
}): PatchPlan {
  const plan: Planning = {
    stored: input.stored,
    occurredAt: canonicalInstant(input.occurredAt),
    jobId: input.jobId,
    versions: {},
    dropped: [],
  };
  const patch: Record<string, unknown> = {};
  let fields = 0;
  for (const field of CONTACT_STRING_FIELDS) {
    const value = input.patch[field];
    if (value !== undefined && mustSend(plan, field, value)) {
      patch[field] = value;
      fields++;
    }
  }
  if (input.patch.customField) {
    const custom: Record<string, CustomFieldValue> = {};
    let keys = 0;
    for (const key of Object.keys(input.patch.customField)) {
      const value = input.patch.customField[key] as CustomFieldValue;
      if (mustSend(plan, customFieldVersionKey(key), value)) {
        custom[key] = value;
        keys++;
      }
    }
    if (keys > 0) {
      patch.customField = custom;
      fields++;
    }
  }
  return {
    patch: fields > 0 ? (patch as ContactPatch) : undefined,
    versions: plan.versions,
    dropped: plan.dropped,
  };
}

interface Planning {
  readonly stored: FieldVersions;
  readonly occurredAt: string;
  readonly jobId: string;
  readonly versions: Record<string, FieldVersion>;
  readonly dropped: DroppedPatchField[];
}

/** Decides one field: true when its value must be sent; records its version or why it is dropped. */
function mustSend(plan: Planning, versionKey: string, value: string | CustomFieldValue): boolean {
  const stored = plan.stored[versionKey];
  if (stored && compareInstants(stored.occurredAt, plan.occurredAt) > 0) {
    plan.dropped.push({ field: versionKey, reason: DROP_REASONS.stale });
    return false;
  }
  const valueHash = hashFieldValue(value);
  plan.versions[versionKey] = { occurredAt: plan.occurredAt, valueHash, jobId: plan.jobId };
  if (stored && stored.valueHash === valueHash) {
    plan.dropped.push({ field: versionKey, reason: DROP_REASONS.noOp });
    return false;
  }
  return true;
}

/**
 * Merges stored and new versions, keeping for each field the one with the later `occurredAt`
 * (the new one on a tie), so two writers that race never move a field's version backwards.
 */
export function mergeFieldVersions(
  stored: FieldVersions,
  updates: FieldVersions,
): Record<string, FieldVersion> {
  const merged: Record<string, FieldVersion> = { ...stored };
  for (const [field, version] of Object.entries(updates)) {
    const current = merged[field];
    if (!current || compareInstants(current.occurredAt, version.occurredAt) <= 0) merged[field] = version;
  }
  return merged;
}
