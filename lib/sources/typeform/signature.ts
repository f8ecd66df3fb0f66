import type { SecretValue } from '../../aws/secrets.js';
import { computeHmacBase64, type SignatureCheck, verifyBase64Header } from '../../webhooks/hmac.js';

/** Header that carries Typeform's signature: `Typeform-Signature: sha256=<base64 HMAC-SHA256>`. */
export const TYPEFORM_SIGNATURE_HEADER = 'typeform-signature';

const PREFIX = 'sha256=';

/** The header value Typeform sends for `body` signed with `secret`: `sha256=<base64>`. */
export function computeTypeformSignature(body: Uint8Array | string, secret: string): string {
  return `${PREFIX}${computeHmacBase64(body, secret)}`;
}

/**
 * Checks `Typeform-Signature` against the exact raw body, with the current secret and then,
 * during a rotation, the previous one.
 */
export function verifyTypeformSignature(
  rawBody: Uint8Array | string,
  header: string | undefined,
  secret: SecretValue,
): SignatureCheck {
  // Typeform sends standard base64 after `sha256=`; a hex digest (a common mistake) can never
  // match, so it is reported as malformed rather than compared.
  return verifyBase64Header(rawBody, header, secret, PREFIX);
}
