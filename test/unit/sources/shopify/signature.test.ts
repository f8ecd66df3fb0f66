import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSecretString } from '../../../../lib/aws/secrets.js';
import {
  computeShopifySignature,
  verifyShopifySignature,
} from '../../../../lib/sources/shopify/signature.js';

const body = Buffer.from(
  '{"id":207119551,"email":"bob@example.com","updated_at":"2026-11-26T10:00:00-05:00"}',
);
const secret = 'shopify-client-secret';

describe('verifyShopifySignature', () => {
  it('accepts the base64 HMAC-SHA256 of the raw body', () => {
    const header = createHmac('sha256', secret).update(body).digest('base64');
    expect(computeShopifySignature(body, secret)).toBe(header);
    expect(verifyShopifySignature(body, header, { value: secret })).toEqual({ ok: true, secret: 'current' });
  });

  it('refuses a missing header', () => {
    expect(verifyShopifySignature(body, undefined, { value: secret })).toEqual({
      ok: false,
      reason: 'missing-header',
    });
  });

  it('refuses a signature made with another secret', () => {
    expect(verifyShopifySignature(body, computeShopifySignature(body, 'wrong'), { value: secret })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('refuses a hex digest of the right HMAC', () => {
    const hex = createHmac('sha256', secret).update(body).digest('hex');
    expect(verifyShopifySignature(body, hex, { value: secret })).toEqual({
      ok: false,
      reason: 'malformed-header',
    });
  });

  it('refuses a url-safe base64 digest of the right HMAC as malformed', () => {
    // A digest with + or / (found deterministically): its url-safe form differs in those characters.
    let signed = body;
    for (let n = 0; !/[+/]/.test(computeShopifySignature(signed, secret)); n++) signed = Buffer.from(`${n}`);
    const urlSafe = computeShopifySignature(signed, secret).replaceAll('+', '-').replaceAll('/', '_');
    expect(verifyShopifySignature(signed, urlSafe, { value: secret })).toEqual({
      ok: false,
      reason: 'malformed-header',
    });
  });

  it('refuses a Typeform-style sha256= prefix', () => {
    const prefixed = `sha256=${computeShopifySignature(body, secret)}`;
    expect(verifyShopifySignature(body, prefixed, { value: secret })).toEqual({
      ok: false,
      reason: 'malformed-header',
    });
  });

  it('refuses a signature computed over a re-serialised body', () => {
    const reserialised = JSON.stringify(JSON.parse(body.toString('utf8')));
    const spaced = JSON.stringify(JSON.parse(body.toString('utf8')), null, 1);
    expect(reserialised).toBe(body.toString('utf8'));
    expect(verifyShopifySignature(body, computeShopifySignature(spaced, secret), { value: secret }).ok).toBe(
      false,
    );
  });

  it('accepts the previous secret during a rotation', () => {
    const header = computeShopifySignature(body, 'old');
    expect(verifyShopifySignature(body, header, { value: secret, previous: 'old' })).toEqual({
      ok: true,
      secret: 'previous',
    });
    expect(verifyShopifySignature(body, header, { value: secret })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('handles a secret stored with a trailing newline: trimmed value verifies, newline key does not', () => {
    const stored = parseSecretString('shopify', `${secret}\r\n`);
    expect(verifyShopifySignature(body, computeShopifySignature(body, secret), stored).ok).toBe(true);
    expect(verifyShopifySignature(body, computeShopifySignature(body, `${secret}\r\n`), stored).ok).toBe(
      false,
    );
  });

  it('signs the bytes, not a string: multi-byte characters must match byte for byte', () => {
    const unicode = Buffer.from('{"first_name":"Zoë","last_name":"Ōkubo 大久保"}', 'utf8');
    const header = computeShopifySignature(unicode, secret);
    expect(verifyShopifySignature(unicode, header, { value: secret }).ok).toBe(true);
    const latin1 = Buffer.from(unicode.toString('utf8'), 'latin1');
    expect(verifyShopifySignature(latin1, header, { value: secret }).ok).toBe(false);
  });
});
