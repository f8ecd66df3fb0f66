import { hash } from 'node:crypto';

/**
 * SHA-256 of a UTF-8 string as 64 hex characters. `crypto.hash` (Node >= 20.12) is the one-shot
 * form: about half the CPU of `createHash().update().digest()` for the short inputs hashed per job
 * and per field (ids, keys, field values).
 */
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}
