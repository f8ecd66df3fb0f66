import { describe, expect, it } from 'vitest';
import {
  errorResponse,
  headerValue,
  jsonResponse,
  MAX_BODY_BYTES,
  rawBodySize,
  readRawBody,
} from '../../../lib/webhooks/http.js';

describe('headerValue', () => {
  it('finds a header whatever the case of its name', () => {
    const headers = { 'X-Shopify-Topic': 'orders/paid', 'typeform-signature': 'sha256=x' };
    expect(headerValue(headers, 'x-shopify-topic')).toBe('orders/paid');
    expect(headerValue(headers, 'Typeform-Signature')).toBe('sha256=x');
    expect(headerValue(headers, 'x-shopify-webhook-id')).toBeUndefined();
    expect(headerValue(undefined, 'x')).toBeUndefined();
  });
});

describe('readRawBody', () => {
  it('decodes a base64-flagged body to the bytes that were sent', () => {
    const text = '{"name":"Zoë"}';
    const raw = readRawBody({ body: Buffer.from(text).toString('base64'), isBase64Encoded: true });
    expect(raw.toString('utf8')).toBe(text);
  });

  it('keeps a plain body as its UTF-8 bytes, and an absent body as empty', () => {
    expect(readRawBody({ body: 'é' })).toEqual(Buffer.from([0xc3, 0xa9]));
    expect(readRawBody({ body: null }).length).toBe(0);
  });
});

describe('rawBodySize', () => {
  it('counts UTF-8 bytes, not characters', () => {
    expect(rawBodySize({ body: 'éé' })).toBe(4);
  });

  it('computes the decoded size of a base64 body without decoding it', () => {
    for (const n of [0, 1, 2, 3, 100, 1001]) {
      const encoded = Buffer.alloc(n, 7).toString('base64');
      expect(rawBodySize({ body: encoded, isBase64Encoded: true })).toBe(n);
    }
  });

  it('puts the limit at exactly 1 MiB', () => {
    expect(MAX_BODY_BYTES).toBe(1_048_576);
  });
});

describe('responses', () => {
  it('answers JSON with a content type', () => {
    const response = jsonResponse(200, { status: 'accepted' });
    expect(response.headers['content-type']).toBe('application/json');
    expect(JSON.parse(response.body)).toEqual({ status: 'accepted' });
  });

  it('shapes errors as {error, message} plus details', () => {
    const response = errorResponse(400, 'invalid-payload', 'fix it', { issues: ['a.b: required'] });
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(response.body)).toEqual({
      error: 'invalid-payload',
      message: 'fix it',
      issues: ['a.b: required'],
    });
  });
});
