import { createHash } from 'node:crypto';
import * as z from 'zod';
import { ContactIdSchema, ContactPatchSchema } from '../cleartalk/schemas.js';

/**
 * The PatchJob contract (DESIGN.md): the one unit of work every path puts on the FIFO queue.
 */
export const MatchSchema = z
  .object({
    externalKey: z.string().min(1).optional(),
    email: z.string().min(3).optional(),
    phone: z.string().min(3).optional(),
  })
  .refine((m) => m.externalKey !== undefined || m.email !== undefined || m.phone !== undefined, {
    message: 'match needs externalKey, email or phone',
  });
export type Match = z.infer<typeof MatchSchema>;

export const PatchJobSchema = z
  .object({
    version: z.literal(1),
    jobId: z.string().min(1).max(1024),
    source: z.string().min(1),
    contactId: ContactIdSchema.optional(),
    match: MatchSchema.optional(),
    patch: ContactPatchSchema,
    occurredAt: z.iso.datetime({ offset: true }),
  })
  .refine((job) => job.contactId !== undefined || job.match !== undefined, {
    message: 'a PatchJob needs contactId or match',
    path: ['contactId'],
  });
export type PatchJob = z.infer<typeof PatchJobSchema>;

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

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
