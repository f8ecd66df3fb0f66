import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SecretValue } from '../aws/secrets.js';

/** Why a signature was refused (logged; never the secret or the header value). */
export type SignatureFailure = 'missing-header' | 'malformed-header' | 'mismatch';

export type SignatureCheck =
  | { readonly ok: true; readonly secret: 'current' | 'previous' }
  | { readonly ok: false; readonly reason: SignatureFailure };

/** A SHA-256 digest (32 bytes) in padded standard base64: exactly 44 characters. */
export const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;

/** The standard-base64 HMAC-SHA256 of `body` under `secret` (both platforms sign this way). */
export function computeHmacBase64(body: Uint8Array | string, secret: string): string {
  // A string is hashed as its UTF-8 bytes (explicit: the default would be too, but say so).
  return typeof body === 'string'
    ? createHmac('sha256', secret).update(body, 'utf8').digest('base64')
    : createHmac('sha256', secret).update(body).digest('base64');
}

/**
 * Compares a base64 digest with the one computed over `rawBody` under the current secret and,
 * during a rotation, the previous one, in constant time.
 */
export function matchAnySecret(
  rawBody: Uint8Array | string,
  givenBase64: string,
  secret: SecretValue,
): SignatureCheck {
  const given = Buffer.from(givenBase64, 'utf8');
  const candidates: Array<['current' | 'previous', string]> = [['current', secret.value]];
  if (secret.previous) candidates.push(['previous', secret.previous]);
  for (const [which, key] of candidates) {
    const expected = Buffer.from(computeHmacBase64(rawBody, key), 'utf8');
    // timingSafeEqual throws on different lengths; the guard turns that into a plain mismatch.
    if (expected.length === given.length && timingSafeEqual(expected, given))
      return { ok: true, secret: which };
  }
  return { ok: false, reason: 'mismatch' };
}

/**
 * Checks a signature header of the form `<prefix><base64 HMAC-SHA256>` against the exact raw
 * body: a missing header, then a malformed digest, then the secrets (current, previous).
 */
export function verifyBase64Header(
  rawBody: Uint8Array | string,
  header: string | undefined,
  secret: SecretValue,
  prefix = '',
): SignatureCheck {
  const given = header?.trim() ?? '';
  if (given === '') return { ok: false, reason: 'missing-header' };
  // A digest in another encoding (hex, url-safe base64) or without the prefix can never match:
  // reported as malformed rather than compared.
  const digest = given.startsWith(prefix) ? given.slice(prefix.length) : '';
  if (!BASE64_SHA256.test(digest)) return { ok: false, reason: 'malformed-header' };
  return matchAnySecret(rawBody, digest, secret);
}
