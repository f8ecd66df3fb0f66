import { computeShopifySignature } from '../../lib/sources/shopify/signature.js';
import { computeTypeformSignature } from '../../lib/sources/typeform/signature.js';

/** The `Typeform-Signature` header value for `body` (a string is signed as its UTF-8 bytes). */
export function signTypeform(body: string | Uint8Array, secret: string): string {
  return computeTypeformSignature(body, secret);
}

/** The `X-Shopify-Hmac-Sha256` header value for `body`. */
export function signShopify(body: string | Uint8Array, secret: string): string {
  return computeShopifySignature(body, secret);
}
