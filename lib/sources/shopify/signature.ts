import type { SecretValue } from '../../aws/secrets.js';
import { computeHmacBase64, type SignatureCheck, verifyBase64Header } from '../../webhooks/hmac.js';

/** Header that carries Shopify's signature: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256>`. */
export const SHOPIFY_SIGNATURE_HEADER = 'x-shopify-hmac-sha256';

/** The value Shopify sends in `X-Shopify-Hmac-Sha256` for `body` signed with `secret`. */
export function computeShopifySignature(body: Uint8Array | string, secret: string): string {
  return computeHmacBase64(body, secret);
}

/**
 * Checks `X-Shopify-Hmac-Sha256` against the exact raw body, with the current secret and then
 * the previous one (after a rotation Shopify may sign with the old secret for up to an hour).
 */
export function verifyShopifySignature(
  rawBody: Uint8Array | string,
  header: string | undefined,
  secret: SecretValue,
): SignatureCheck {
  // Hex, url-safe base64 or a `sha256=` prefix can never match: reported as malformed.
  return verifyBase64Header(rawBody, header, secret);
}
