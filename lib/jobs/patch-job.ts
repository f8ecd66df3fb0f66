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

export { contactKey, deduplicationId } from './fifo-keys.js';
