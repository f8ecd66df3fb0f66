import { describeIssues, ValidationError } from '../errors.js';
import * as z from '../zod.js';

/*
 * What the backfill function is asked to do: an EventBridge schedule ("run every configured
 * source from its checkpoint") or a direct invoke with a request (issue 5 §1).
 *
 * The request schema is built on the first direct request, not at import: scheduled invocations
 * (the usual ones) never parse a request, so building it at every cold start would be work for
 * nothing. A direct invoke pays it once per container.
 */
function buildBackfillRequestSchema() {
  const isoInstant = z.iso.datetime({
    offset: true,
    message: 'must be an ISO 8601 timestamp with Z or an offset',
  });

  return z
    .strictObject({
      source: z.enum(['typeform', 'shopify']),
      /** Typeform forms to read; the mapping configuration's backfill forms when absent. */
      formIds: z.optional(
        z
          .array(z.string().check(z.regex(/^[A-Za-z0-9]+$/, 'a Typeform form id is letters and digits')))
          .check(z.minLength(1)),
      ),
      since: z.optional(isoInstant),
      until: z.optional(isoInstant),
      dryRun: z._default(z.boolean(), false),
      /** Stop after reading this many records (in total, across forms). */
      maxRecords: z.optional(z.number().check(z.int(), z.positive())),
    })
    .check(
      z.refine(
        (r) => r.since === undefined || r.until === undefined || Date.parse(r.since) <= Date.parse(r.until),
        {
          message: 'since must not be after until',
          path: ['since'],
        },
      ),
      z.refine((r) => r.source === 'typeform' || r.formIds === undefined, {
        message: 'formIds only applies to source "typeform"',
        path: ['formIds'],
      }),
    );
}

let requestSchema: ReturnType<typeof buildBackfillRequestSchema> | undefined;

/** The schema of a direct backfill request (built once, on first use). */
export function backfillRequestSchema(): ReturnType<typeof buildBackfillRequestSchema> {
  requestSchema ??= buildBackfillRequestSchema();
  return requestSchema;
}

export type BackfillRequest = z.infer<ReturnType<typeof buildBackfillRequestSchema>>;

/** A parsed invocation: the schedule, or one request. */
export type BackfillInvocation = { kind: 'schedule' } | { kind: 'request'; request: BackfillRequest };

/**
 * Tells a scheduled event from a direct request and validates the request.
 * @throws {ValidationError} code `invalid-request`, listing every problem (paths, not values)
 */
export function parseBackfillEvent(event: unknown): BackfillInvocation {
  if (isScheduledEvent(event)) return { kind: 'schedule' };
  const parsed = backfillRequestSchema().safeParse(event);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error.issues);
    throw new ValidationError(
      `Invalid backfill request: ${issues.join('; ')}. Expected {"source": "typeform"|"shopify", "formIds"?: [...], "since"?: ISO, "until"?: ISO, "dryRun"?: boolean, "maxRecords"?: number}`,
      { code: 'invalid-request', issues },
    );
  }
  return { kind: 'request', request: parsed.data };
}

function isScheduledEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const record = event as Record<string, unknown>;
  return record['detail-type'] === 'Scheduled Event' && record.source === 'aws.events';
}
