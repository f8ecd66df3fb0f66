import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyShopifySignature } from '../../../lib/sources/shopify/signature.js';
import { computeHmacBase64, matchAnySecret } from '../../../lib/webhooks/hmac.js';
import { isBodyOver, rawBodySize, readRawBody, signedBody } from '../../../lib/webhooks/http.js';

describe('signedBody', () => {
  it('hashes a plain body exactly like its UTF-8 bytes, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.constantFrom('\ud800', 'é', '😀', ''), (text, extra) => {
        const body = `${text}${extra}`;
        const request = { body };
        const expected = createHmac('sha256', 's').update(readRawBody(request)).digest('base64');
        expect(computeHmacBase64(signedBody(request), 's')).toBe(expected);
      }),
    );
  });

  it('decodes a base64-flagged body before it is hashed', () => {
    const bytes = Buffer.from([0xff, 0x00, 0x7b]);
    const request = { body: bytes.toString('base64'), isBase64Encoded: true };
    expect(signedBody(request)).toEqual(bytes);
    const header = computeHmacBase64(bytes, 's');
    expect(verifyShopifySignature(signedBody(request), header, { value: 's' }).ok).toBe(true);
    // The base64 text itself is not what was signed.
    expect(verifyShopifySignature(request.body, header, { value: 's' }).ok).toBe(false);
  });
});

describe('isBodyOver', () => {
  it('agrees with rawBodySize around the limit, for ASCII, multi-byte and base64 bodies', () => {
    const limit = 30;
    for (const unit of ['a', 'é', '€', '😀']) {
      for (let n = 0; n <= 35; n++) {
        const body = unit.repeat(n);
        for (const request of [
          { body },
          { body: Buffer.from(body).toString('base64'), isBase64Encoded: true },
        ]) {
          expect(isBodyOver(request, limit)).toBe(rawBodySize(request) > limit);
        }
      }
    }
    expect(isBodyOver({ body: null }, 0)).toBe(false);
  });
});

describe('matchAnySecret', () => {
  it('answers a digest of another length with a mismatch instead of throwing', () => {
    // timingSafeEqual throws on buffers of different lengths: the guard must come first.
    const digest = computeHmacBase64('{}', 's');
    for (const given of ['', digest.slice(0, 43), `${digest}A`]) {
      expect(matchAnySecret('{}', given, { value: 's', previous: 'p' })).toEqual({
        ok: false,
        reason: 'mismatch',
      });
    }
    expect(matchAnySecret('{}', digest, { value: 's' })).toEqual({ ok: true, secret: 'current' });
  });
});
