import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/**
 * HTTP plumbing shared by the webhook handlers (API Gateway HTTP API payload 2.0, which Lambda
 * function URLs use too). Pure: no I/O.
 */

/** The part of an API Gateway v2 event a webhook needs. */
export interface WebhookRequest {
  readonly headers?: Readonly<Record<string, string | undefined>> | null;
  readonly body?: string | null;
  readonly isBase64Encoded?: boolean;
}

export type WebhookResponse = APIGatewayProxyStructuredResultV2 & {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
};

/** Largest body accepted: 1 MiB (issue 3 §5). Shopify's own payloads stay far below it. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** The statuses of a 200 answer (DESIGN.md). */
export const DeliveryStatus = { accepted: 'accepted', ignored: 'ignored', duplicate: 'duplicate' } as const;
export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];

/**
 * Looks a header up case-insensitively. API Gateway lower-cases names, but function URLs, local
 * adapters and tests may not.
 */
export function headerValue(headers: WebhookRequest['headers'], name: string): string | undefined {
  if (!headers) return undefined;
  const direct = headers[name];
  if (direct !== undefined) return direct;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/**
 * The size in bytes of the body as it was sent, computed without decoding so an oversized body
 * costs nothing (the size check runs before the HMAC).
 */
export function rawBodySize(request: WebhookRequest): number {
  const body = request.body ?? '';
  if (!request.isBase64Encoded) return Buffer.byteLength(body, 'utf8');
  return base64DecodedSize(body);
}

/**
 * Whether the body as sent is larger than `limit` bytes. Cheaper than `rawBodySize` on the
 * common path: a UTF-8 string takes at least 1 and at most 3 bytes per UTF-16 code unit, so
 * only a text body between limit/3 and limit characters long needs its bytes counted.
 */
export function isBodyOver(request: WebhookRequest, limit: number): boolean {
  const body = request.body ?? '';
  if (request.isBase64Encoded) return base64DecodedSize(body) > limit;
  if (body.length > limit) return true;
  if (body.length * 3 <= limit) return false;
  return Buffer.byteLength(body, 'utf8') > limit;
}

function base64DecodedSize(body: string): number {
  const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  return Math.floor((body.length * 3) / 4) - padding;
}

/**
 * The exact bytes the sender signed: base64-decoded when API Gateway flagged the body as binary,
 * else the UTF-8 bytes of the string (HTTP APIs pass JSON bodies through untouched).
 */
export function readRawBody(request: WebhookRequest): Buffer {
  const body = request.body ?? '';
  return request.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
}

/**
 * The signed bytes in the cheapest form to hash: the string itself for a plain body (HMAC
 * `update` encodes it as UTF-8, the same bytes `readRawBody` would copy out first), the decoded
 * buffer for a base64-flagged one.
 */
export function signedBody(request: WebhookRequest): Buffer | string {
  const body = request.body ?? '';
  return request.isBase64Encoded ? Buffer.from(body, 'base64') : body;
}

/** The body as text for JSON.parse: the string itself unless it had to be base64-decoded. */
export function bodyText(request: WebhookRequest, raw: Buffer): string {
  return request.isBase64Encoded ? raw.toString('utf8') : (request.body ?? '');
}

/** A JSON response; `content-type` always set, nothing cached. */
export function jsonResponse(statusCode: number, body: Record<string, unknown>): WebhookResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(body),
  };
}

/** An error answer: `{"error": <code>, "message": <what to fix>}` plus safe details (field paths). */
export function errorResponse(
  statusCode: number,
  error: string,
  message: string,
  details: Record<string, unknown> = {},
): WebhookResponse {
  return jsonResponse(statusCode, { error, message, ...details });
}
