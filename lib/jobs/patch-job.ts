import { ContactIdSchema, ContactPatchSchema } from '../cleartalk/schemas.js';
import * as z from '../zod.js';

/**
 * The PatchJob contract (DESIGN.md): the one unit of work every path puts on the FIFO queue.
 */
export const MatchSchema = z
  .object({
    externalKey: z.optional(z.string().check(z.minLength(1))),
    email: z.optional(z.string().check(z.minLength(3))),
    phone: z.optional(z.string().check(z.minLength(3))),
  })
  .check(
    z.refine((m) => m.externalKey !== undefined || m.email !== undefined || m.phone !== undefined, {
      message: 'match needs externalKey, email or phone',
    }),
  );
export type Match = z.infer<typeof MatchSchema>;

export const PatchJobSchema = z
  .object({
    version: z.literal(1),
    jobId: z.string().check(z.minLength(1), z.maxLength(1024)),
    source: z.string().check(z.minLength(1)),
    contactId: z.optional(ContactIdSchema),
    match: z.optional(MatchSchema),
    patch: ContactPatchSchema,
    occurredAt: z.iso.datetime({ offset: true }),
  })
  .check(
    z.refine((job) => job.contactId !== undefined || job.match !== undefined, {
      message: 'a PatchJob needs contactId or match',
      path: ['contactId'],
    }),
  );
export type PatchJob = z.infer<typeof PatchJobSchema>;

export { contactKey, deduplicationId } from './fifo-keys.js';
