import { sha256Hex } from '../hash.js';
import type { PatchJob } from './patch-job.js';

/*
 * The FIFO keys of a PatchJob, apart from patch-job.ts (which re-exports them): the functions that
 * only enqueue jobs need these, and importing patch-job.ts would build the PatchJob schema at
 * every cold start although only the worker validates jobs with it.
 */

/**
 * The FIFO message group of a job: one contact's jobs are applied in order, other contacts'
 * in parallel. `contactId`, else `match.externalKey`, else `match.email`, else `match.phone`.
 * SQS allows 128 characters of a limited alphabet, so longer or unusual keys are hashed.
 */
export function contactKey(job: Pick<PatchJob, 'contactId' | 'match'>): string {
  const key = job.contactId ?? job.match?.externalKey ?? job.match?.email ?? job.match?.phone ?? 'unmatched';
  return /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/.test(key) ? key : sha256Hex(key);
}

/** The FIFO `MessageDeduplicationId` for a jobId: a hash, because jobIds may exceed 128 characters. */
export function deduplicationId(jobId: string): string {
  return sha256Hex(jobId);
}
