import { ContactIdSchema, ContactPatchSchema } from '../cleartalk/schemas.js';
import * as z from '../zod.js';

// DynamoDB keys hold at most 2,048 bytes (partition) and 1,024 bytes (sort) of UTF-8: a jobId keys
// the ledger item (`job#<jobId>`), an external key is a link's sort key. Longer ones would fail on
// every write and come back as retries until `retries-exhausted`; refused here, they dead-letter
// once as `invalid-job` with the reason.
const fitsKey = (maxBytes: number) =>
  z.refine<string>((text) => Buffer.byteLength(text, 'utf8') <= maxBytes, {
    message: `must be at most ${maxBytes} bytes in UTF-8 (it keys a DynamoDB item)`,
  });

/**
 * The PatchJob contract (DESIGN.md): the one unit of work every path puts on the FIFO queue.
 */
export const MatchSchema = z
  .object({
    externalKey: z.optional(z.string().check(z.minLength(1), fitsKey(1024))),
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
    jobId: z.string().check(z.minLength(1), z.maxLength(1024), fitsKey(2000)),
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
