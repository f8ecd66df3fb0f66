import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DeliveryStore } from '../aws/deliveries.js';
import type { SecretReader, SecretValue } from '../aws/secrets.js';
import { enqueuePatchJob } from '../aws/sqs.js';
import { ConfigError, DependencyError, SignatureError, ValidationError } from '../errors.js';
import type { MapOutcome } from '../sources/outcome.js';
import type { SignatureCheck } from './hmac.js';
import {
  errorResponse,
  headerValue,
  isBodyOver,
  jsonResponse,
  MAX_BODY_BYTES,
  rawBodySize,
  signedBody,
  type WebhookRequest,
  type WebhookResponse,
} from './http.js';

/**
 * The steps every delivery path shares once a body is trusted: enqueue a mapped job (with
 * delivery dedupe), and turn results and errors into the HTTP answers of DESIGN.md.
 */

/** Structured log sink; Powertools' Logger fits. Log ids, field names and reasons only. */
export interface WebhookLogger {
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  warn(message: string, ...extra: Array<Record<string, unknown>>): void;
  error(message: string, ...extra: Array<Record<string, unknown>>): void;
}

/** The result of a delivery that was handled (HTTP 200; EventBridge returns). */
export type DeliveryResult =
  | {
      readonly status: 'accepted';
      readonly jobId?: string;
      readonly removedLinks?: number;
      readonly reason?: string;
    }
  | { readonly status: 'ignored'; readonly reason: string }
  | { readonly status: 'duplicate'; readonly jobId: string; readonly deliveryId: string };

export interface EnqueueDeps {
  readonly sqs: Pick<SQSClient, 'send'>;
  readonly queueUrl: string;
  /** Delivery dedupe; absent when `STATE_TABLE_NAME` is not set (FIFO dedup still covers 5 min). */
  readonly deliveries?: DeliveryStore | undefined;
  readonly logger: WebhookLogger;
}

/**
 * Enqueues what a mapper produced: `nothing` becomes `ignored`; a delivery already enqueued
 * becomes `duplicate`; else the job goes on the FIFO queue and the delivery id is recorded.
 * @throws {DependencyError} when the queue does not take the job (answer 503 / throw to retry)
 */
export async function enqueueOutcome(
  outcome: MapOutcome,
  delivery: { readonly source: string; readonly deliveryId?: string | undefined },
  deps: EnqueueDeps,
): Promise<DeliveryResult> {
  const { logger } = deps;
  if (outcome.dropped.length > 0) {
    logger.info('fields left out', {
      source: delivery.source,
      deliveryId: delivery.deliveryId,
      ...(outcome.kind === 'job' ? { jobId: outcome.job.jobId } : {}),
      dropped: outcome.dropped.map(({ field, reason }) => ({ field, reason })),
    });
  }
  if (outcome.kind === 'nothing') return { status: 'ignored', reason: outcome.reason };

  const { job } = outcome;
  const { deliveries } = deps;
  const deliveryId = delivery.deliveryId;
  if (deliveries && deliveryId) {
    try {
      if (await deliveries.hasDelivery(delivery.source, deliveryId)) {
        return { status: 'duplicate', jobId: job.jobId, deliveryId };
      }
    } catch (error) {
      // The FIFO queue still collapses repeats within 5 minutes: a state-table hiccup must not
      // turn a good delivery into a retry.
      logger.warn('delivery check failed; enqueueing anyway', { deliveryId, error: errorName(error) });
    }
  }

  await enqueuePatchJob(deps.sqs, deps.queueUrl, job);

  if (deliveries && deliveryId) {
    try {
      // Recorded only now: recording first would turn a 503-and-retry into a lost change.
      await deliveries.recordDelivery(delivery.source, deliveryId, { jobId: job.jobId });
    } catch (error) {
      logger.warn('delivery record failed; job is queued', { deliveryId, error: errorName(error) });
    }
  }
  return { status: 'accepted', jobId: job.jobId };
}

/** Verifies a signature, and once per `refreshIntervalMs` re-reads the secret after a mismatch. */
export interface SignatureGate {
  readonly secrets: SecretReader;
  readonly secretId: string;
  /**
   * Allows a forced secret refresh now? A rotated secret must not cause 5 minutes of 401s, but a
   * flood of forged requests must not become a flood of Secrets Manager calls either.
   */
  readonly allowRefresh: () => boolean;
}

/**
 * Checks a signature with the cached secret, and after a mismatch with a freshly read one (when
 * the gate allows).
 * @throws {SignatureError} when the signature is missing or wrong
 * @throws {ConfigError|DependencyError} when the secret cannot be read
 */
export async function checkSignature(
  gate: SignatureGate,
  verify: (secret: SecretValue) => SignatureCheck,
): Promise<'current' | 'previous'> {
  let check = verify(await gate.secrets.get(gate.secretId));
  if (!check.ok && check.reason === 'mismatch' && gate.allowRefresh()) {
    check = verify(await gate.secrets.get(gate.secretId, { forceRefresh: true }));
  }
  if (!check.ok) throw new SignatureError(check.reason);
  return check.secret;
}

/** What an HTTPS delivery needs to check its signature, built once per container. */
export interface SignedDeliveryDeps {
  readonly secrets: SecretReader;
  readonly secretId: string;
  readonly allowSecretRefresh: () => boolean;
}

/** A platform's signature: the header that carries it and how to check it over the raw bytes. */
export interface DeliverySignature {
  /** The header to read (any case). */
  readonly header: string;
  /** The header as the platform writes it, named in the 401 answer. */
  readonly label: string;
  verify(rawBody: Buffer | string, header: string | undefined, secret: SecretValue): SignatureCheck;
}

/**
 * The envelope of every HTTPS delivery: size check, signature over the raw bytes (current, then
 * previous or refreshed secret), parse as a JSON object, hand the trusted body to `processBody`,
 * log and answer. Never throws: every outcome, `processBody`'s errors included, is an HTTP answer.
 */
export async function handleSignedDelivery(
  request: WebhookRequest,
  deps: SignedDeliveryDeps & { readonly logger: WebhookLogger },
  context: Record<string, unknown>,
  signature: DeliverySignature,
  processBody: (body: Record<string, unknown>) => Promise<DeliveryResult>,
  /** How the trusted body's text becomes JSON. @default JSON.parse */
  parse: (text: string) => unknown = JSON.parse,
): Promise<WebhookResponse> {
  try {
    // Size first: an oversized body is refused before any HMAC work.
    if (isBodyOver(request, MAX_BODY_BYTES)) {
      deps.logger.warn('body too large', { ...context, bytes: rawBodySize(request) });
      return tooLargeResponse(MAX_BODY_BYTES);
    }
    // A plain body is hashed as the string (UTF-8), skipping a copy into a Buffer.
    const raw = signedBody(request);
    const header = headerValue(request.headers, signature.header);
    const secret = await checkSignature(
      { secrets: deps.secrets, secretId: deps.secretId, allowRefresh: deps.allowSecretRefresh },
      (value) => signature.verify(raw, header, value),
    );
    if (secret === 'previous')
      deps.logger.info('signed with the previous secret (rotation under way)', context);
    const result = await processBody(
      parseJsonObject(typeof raw === 'string' ? raw : raw.toString('utf8'), parse),
    );
    deps.logger.info('delivery handled', { ...context, ...result });
    return answerResult(result);
  } catch (error) {
    return answerError(error, deps.logger, context, signature.label);
  }
}

/** A refresh gate that opens at most once per interval. */
export function createRefreshGate(options: { intervalMs?: number; now?: () => number } = {}): () => boolean {
  const intervalMs = options.intervalMs ?? 60_000;
  const now = options.now ?? Date.now;
  let last = Number.NEGATIVE_INFINITY;
  return () => {
    const t = now();
    if (t - last < intervalMs) return false;
    last = t;
    return true;
  };
}

/** The 200 answer of a handled delivery. */
export function answerResult(result: DeliveryResult): WebhookResponse {
  return jsonResponse(200, { ...result });
}

/** The 503 answer of a function whose configuration is invalid: the platform retries until it is fixed. */
export function misconfiguredResponse(): WebhookResponse {
  return errorResponse(
    503,
    'misconfigured',
    'The function configuration is invalid (details in its log); the delivery will succeed once an operator fixes it.',
  );
}

/**
 * Maps an error to its HTTP answer and logs it once. Error bodies never carry secrets or payload
 * values: only codes, messages we wrote and field paths.
 */
export function answerError(
  error: unknown,
  logger: WebhookLogger,
  context: Record<string, unknown>,
  signatureHeader: string,
): WebhookResponse {
  if (error instanceof SignatureError) {
    logger.warn('signature rejected', { ...context, reason: error.message });
    return errorResponse(
      401,
      'invalid-signature',
      `${signatureHeader} is missing or does not match. Sign the exact raw request body with the webhook secret (HMAC-SHA256, standard base64).`,
    );
  }
  if (error instanceof ValidationError) {
    logger.warn('delivery rejected', { ...context, code: error.code, issues: error.issues });
    return errorResponse(
      400,
      error.code,
      error.message,
      error.issues.length > 0 ? { issues: error.issues } : {},
    );
  }
  if (error instanceof ConfigError) {
    logger.error('configuration problem', { ...context, problems: error.problems });
    return misconfiguredResponse();
  }
  if (error instanceof DependencyError) {
    logger.error('dependency unavailable', {
      ...context,
      dependency: error.dependency,
      error: error.message,
      cause: errorName(error.cause),
    });
    return errorResponse(503, 'unavailable', 'The delivery could not be queued right now; retry later.');
  }
  logger.error('unexpected failure', { ...context, error: errorName(error) });
  return errorResponse(500, 'internal', 'Unexpected failure; retry later.');
}

/** A 413 answer for a body over the limit. */
export function tooLargeResponse(limit: number): WebhookResponse {
  return errorResponse(413, 'payload-too-large', `The request body exceeds ${limit} bytes.`);
}

/**
 * Parses a verified body as a JSON object.
 * @throws {ValidationError} `invalid-json` or `invalid-payload` (not an object)
 */
export function parseJsonObject(
  raw: Buffer | string,
  parse: (text: string) => unknown = JSON.parse,
): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    throw new ValidationError('The body is not valid JSON; send the payload as the platform produced it.', {
      code: 'invalid-json',
    });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ValidationError(
      `The body is JSON but not an object (got ${Array.isArray(parsed) ? 'an array' : typeof parsed}).`,
      { code: 'invalid-payload' },
    );
  }
  return parsed as Record<string, unknown>;
}

function errorName(error: unknown): string | undefined {
  if (error === undefined) return undefined;
  return (error as { name?: string })?.name ?? 'Error';
}
