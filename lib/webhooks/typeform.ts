import type { DeliveryStore } from '../aws/deliveries.js';
import type { SecretReader } from '../aws/secrets.js';
import { describeIssues, ValidationError } from '../errors.js';
import { lookupTypeformFormSettings, type MappingConfig } from '../sources/mapping-config.js';
import { mapTypeformResponse } from '../sources/typeform/mapper.js';
import { TypeformWebhookSchema } from '../sources/typeform/schema.js';
import { TYPEFORM_SIGNATURE_HEADER, verifyTypeformSignature } from '../sources/typeform/signature.js';
import {
  headerValue,
  isBodyOver,
  MAX_BODY_BYTES,
  rawBodySize,
  signedBody,
  type WebhookRequest,
  type WebhookResponse,
} from './http.js';
import {
  answerError,
  answerResult,
  checkSignature,
  type DeliveryResult,
  type EnqueueDeps,
  enqueueOutcome,
  parseJsonObject,
  tooLargeResponse,
} from './pipeline.js';

/** Everything a Typeform delivery needs, built once per container (handlers/typeform-webhook.ts). */
export interface TypeformDeliveryDeps extends EnqueueDeps {
  readonly secrets: SecretReader;
  readonly secretId: string;
  readonly allowSecretRefresh: () => boolean;
  readonly mapping: MappingConfig;
  readonly defaultPhoneRegion: string;
  readonly deliveries?: DeliveryStore | undefined;
}

const SOURCE = 'typeform';

/**
 * One Typeform webhook delivery: size check, signature over the raw bytes, parse, map, enqueue,
 * answer (DESIGN.md "Webhook HTTP answers"). Never throws: every outcome is an HTTP answer.
 */
export async function handleTypeformDelivery(
  request: WebhookRequest,
  deps: TypeformDeliveryDeps,
): Promise<WebhookResponse> {
  const context: Record<string, unknown> = { source: SOURCE };
  try {
    // Size first: an oversized body is refused before any HMAC work.
    if (isBodyOver(request, MAX_BODY_BYTES)) {
      deps.logger.warn('body too large', { ...context, bytes: rawBodySize(request) });
      return tooLargeResponse(MAX_BODY_BYTES);
    }
    // A plain body is hashed as the string (UTF-8), skipping a copy into a Buffer.
    const raw = signedBody(request);
    const header = headerValue(request.headers, TYPEFORM_SIGNATURE_HEADER);
    const secret = await checkSignature(
      { secrets: deps.secrets, secretId: deps.secretId, allowRefresh: deps.allowSecretRefresh },
      (value) => verifyTypeformSignature(raw, header, value),
    );
    if (secret === 'previous')
      deps.logger.info('signed with the previous secret (rotation under way)', context);
    const body = parseJsonObject(typeof raw === 'string' ? raw : raw.toString('utf8'));
    const result = await processTypeformWebhook(body, deps, context);
    deps.logger.info('delivery handled', { ...context, ...result });
    return answerResult(result);
  } catch (error) {
    return answerError(error, deps.logger, context, 'Typeform-Signature');
  }
}

/**
 * Routes a verified Typeform body by `event_type`, maps it and enqueues the job.
 * @throws {ValidationError} when the body is not a Typeform webhook
 * @throws {DependencyError} when the queue does not take the job
 */
export async function processTypeformWebhook(
  body: Record<string, unknown>,
  deps: Omit<TypeformDeliveryDeps, 'secrets' | 'secretId' | 'allowSecretRefresh'>,
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
  const parsed = TypeformWebhookSchema.safeParse(body);
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
