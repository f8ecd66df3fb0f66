import type { PatchJob } from '../jobs/patch-job.js';

/** A source field left out of a patch: its NAME and why, never its value (contact data stays out of logs). */
export interface DroppedField {
  field: string;
  reason: string;
}

/** What a mapper made of one payload: a PatchJob, or an explicit "nothing to update" with the reason. */
export type MapOutcome =
  | { kind: 'job'; job: PatchJob; dropped: DroppedField[] }
  | { kind: 'nothing'; reason: string; dropped: DroppedField[] };
