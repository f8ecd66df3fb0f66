import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSecretString } from '../../../../lib/aws/secrets.js';
import {
  computeTypeformSignature,
  verifyTypeformSignature,
} from '../../../../lib/sources/typeform/signature.js';

const body = Buffer.from(
  '{"event_id":"e1","event_type":"form_response","form_response":{"form_id":"f"}}',
  'utf8',
);
const secret = 'typeform-secret';

describe('verifyTypeformSignature', () => {
  it('accepts sha256=<base64 HMAC> over the raw body', () => {
    expect(verifyTypeformSignature(body, computeTypeformSignature(body, secret), { value: secret })).toEqual({
      ok: true,
      secret: 'current',
    });
  });

  it('matches the documented algorithm (HMAC-SHA256, standard base64, sha256= prefix)', () => {
    const expected = `sha256=${createHmac('sha256', secret).update(body).digest('base64')}`;
    expect(computeTypeformSignature(body, secret)).toBe(expected);
  });

  it('refuses a missing header', () => {
    expect(verifyTypeformSignature(body, undefined, { value: secret })).toEqual({
      ok: false,
      reason: 'missing-header',
    });
    expect(verifyTypeformSignature(body, '  ', { value: secret })).toEqual({
      ok: false,
      reason: 'missing-header',
    });
  });

  it('refuses a signature made with another secret', () => {
    const header = computeTypeformSignature(body, 'other-secret');
    expect(verifyTypeformSignature(body, header, { value: secret })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('refuses a hex digest of the right HMAC', () => {
    const hex = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    expect(verifyTypeformSignature(body, hex, { value: secret })).toEqual({
      ok: false,
      reason: 'malformed-header',
    });
  });

  it('refuses the base64 digest without the sha256= prefix', () => {
    const bare = computeTypeformSignature(body, secret).slice('sha256='.length);
    expect(verifyTypeformSignature(body, bare, { value: secret })).toEqual({
      ok: false,
      reason: 'malformed-header',
    });
  });

  it('refuses the right base64 digest behind another prefix', () => {
    const digest = computeTypeformSignature(body, secret).slice('sha256='.length);
    for (const header of [`sha512=${digest}`, `SHA256=${digest}`, `x${digest.slice(0, 6)}${digest}`]) {
      expect(verifyTypeformSignature(body, header, { value: secret })).toEqual({
        ok: false,
        reason: 'malformed-header',
      });
    }
  });

  it('refuses a signature computed over a re-serialised body', () => {
    const reserialised = JSON.stringify(JSON.parse(body.toString('utf8')), null, 2);
    const header = computeTypeformSignature(reserialised, secret);
    expect(verifyTypeformSignature(body, header, { value: secret })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('accepts the previous secret during a rotation and says so', () => {
    const header = computeTypeformSignature(body, 'old-secret');
    expect(verifyTypeformSignature(body, header, { value: secret, previous: 'old-secret' })).toEqual({
      ok: true,
      secret: 'previous',
    });
  });

  it('verifies with a secret stored with a trailing newline, because the secret cache trims it', () => {
    const stored = parseSecretString('typeform', `${secret}\n`);
    expect(verifyTypeformSignature(body, computeTypeformSignature(body, secret), stored).ok).toBe(true);
  });

  it('refuses a signature computed with the trailing newline in the key', () => {
    const stored = parseSecretString('typeform', `${secret}\n`);
    const header = computeTypeformSignature(body, `${secret}\n`);
    expect(verifyTypeformSignature(body, header, stored)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('refuses a signature that differs only in its last character', () => {
    const header = computeTypeformSignature(body, secret);
    const tampered = `${header.slice(0, -2)}${header.at(-2) === 'A' ? 'B' : 'A'}=`;
    expect(verifyTypeformSignature(body, tampered, { value: secret })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });
});
