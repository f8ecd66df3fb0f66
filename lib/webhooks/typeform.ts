import type { DeliveryStore } from '../aws/deliveries.js';
import { compileWhenHot } from '../compiled-schema.js';
import { describeIssues, ValidationError } from '../errors.js';
import { lookupTypeformFormSettings, type MappingConfig } from '../sources/mapping-config.js';
import { mapTypeformResponse } from '../sources/typeform/mapper.js';
import { TypeformWebhookSchema } from '../sources/typeform/schema.js';
import { TYPEFORM_SIGNATURE_HEADER, verifyTypeformSignature } from '../sources/typeform/signature.js';
import type { WebhookRequest, WebhookResponse } from './http.js';
import {
  type DeliveryResult,
  type EnqueueDeps,
  enqueueOutcome,
  handleSignedDelivery,
  type SignedDeliveryDeps,
} from './pipeline.js';

/** Everything a Typeform delivery needs, built once per container (handlers/typeform-webhook.ts). */
export interface TypeformDeliveryDeps extends EnqueueDeps, SignedDeliveryDeps {
  readonly mapping: MappingConfig;
  readonly defaultPhoneRegion: string;
  readonly deliveries?: DeliveryStore | undefined;
}

const SOURCE = 'typeform';

// Parsed once per delivery: the compiled validator is cheaper than zod's runtime parser on valid
// bodies (a little: the answers are checked by hand either way) and hands invalid ones to the
// runtime parser, so the issues in a 400 answer are unchanged.
const webhookSchema = compileWhenHot(TypeformWebhookSchema);

/**
 * One Typeform webhook delivery: size check, signature over the raw bytes, parse, map, enqueue,
 * answer (DESIGN.md "Webhook HTTP answers"). Never throws: every outcome is an HTTP answer.
 */
export async function handleTypeformDelivery(
  request: WebhookRequest,
  deps: TypeformDeliveryDeps,
): Promise<WebhookResponse> {
  const context: Record<string, unknown> = { source: SOURCE };
  return handleSignedDelivery(
    request,
    deps,
    context,
    { header: TYPEFORM_SIGNATURE_HEADER, label: 'Typeform-Signature', verify: verifyTypeformSignature },
    (body) => processTypeformWebhook(body, deps, context),
  );
}

/**
 * Routes a verified Typeform body by `event_type`, maps it and enqueues the job.
 * @throws {ValidationError} when the body is not a Typeform webhook
 * @throws {DependencyError} when the queue does not take the job
 */
export async function processTypeformWebhook(
  body: Record<string, unknown>,
  deps: Omit<TypeformDeliveryDeps, keyof SignedDeliveryDeps>,
  context: Record<string, unknown> = {},
): Promise<DeliveryResult> {
  const eventType = body.event_type;
  if (
    typeof eventType === 'string' &&
    eventType !== 'form_response' &&
    eventType !== 'form_response_partial'
  ) {
    // A type Typeform adds later is not an error of the sender: answer 200 so it keeps delivering.
    return { status: 'ignored', reason: `event_type ${eventType} is not handled` };
  }
  const parsed = webhookSchema.safeParse(body);
  if (!parsed.success) {
    throw new ValidationError('The body is not a Typeform webhook (see issues for the fields).', {
      code: 'invalid-payload',
      issues: describeIssues(parsed.error.issues),
    });
  }
  const webhook = parsed.data;
  const formId = webhook.form_response.form_id;
  Object.assign(context, { deliveryId: webhook.event_id, formId, eventType: webhook.event_type });
  const settings = lookupTypeformFormSettings(deps.mapping, formId);
  if (settings.ignored)
    return { status: 'ignored', reason: `form ${formId} is ignored by the mapping configuration` };
  if (webhook.event_type === 'form_response_partial' && !settings.partialResponses) {
    return { status: 'ignored', reason: `partial responses are not enabled for form ${formId}` };
  }
  let outcome = mapTypeformResponse(webhook.form_response, {
    config: deps.mapping,
    defaultPhoneRegion: deps.defaultPhoneRegion,
  });
  if (webhook.event_type === 'form_response_partial' && outcome.kind === 'job') {
    // A partial response carries the token of the response it will become: with the contract
    // jobId, the ledger and FIFO dedup would swallow the completed response that follows.
    const jobId = `${outcome.job.jobId}:partial:${webhook.event_id}`;
    outcome = { ...outcome, job: { ...outcome.job, jobId } };
  }
  return enqueueOutcome(outcome, { source: SOURCE, deliveryId: webhook.event_id }, deps);
}
