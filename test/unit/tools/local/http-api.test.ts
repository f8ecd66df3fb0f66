import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../../tools/build/package.js';
import {
  fromHandlerResult,
  readServerlessFunctions,
  toHttpApiEvent,
} from '../../../../tools/local/http-api.js';

describe('readServerlessFunctions', () => {
  it('reads the routes, handlers, timeouts and batch size from serverless.yml', () => {
    const functions = readServerlessFunctions(readFileSync(join(PROJECT_ROOT, 'serverless.yml'), 'utf8'));
    const byName = Object.fromEntries(functions.map((fn) => [fn.name, fn]));
    expect(byName.typeformWebhook).toMatchObject({
      modulePath: 'handlers/typeform-webhook.ts',
      exportName: 'handler',
      timeoutSeconds: 10,
      httpRoutes: [{ method: 'POST', path: '/webhooks/typeform' }],
    });
    expect(byName.shopifyWebhook?.httpRoutes).toEqual([{ method: 'POST', path: '/webhooks/shopify' }]);
    expect(byName.applyPatches).toMatchObject({ timeoutSeconds: 60, sqsBatchSize: 10, httpRoutes: [] });
    expect(functions).toHaveLength(5);
  });

  it('refuses a function without a handler', () => {
    expect(() => readServerlessFunctions('functions:\n  broken:\n    timeout: 3\n')).toThrow(
      /broken has no handler/,
    );
  });
});

describe('toHttpApiEvent', () => {
  const base = {
    method: 'POST',
    url: '/webhooks/shopify?a=1&a=2&b=x',
    routeKey: 'POST /webhooks/shopify',
    now: 1_795_000_000_000,
  };

  it('builds a payload 2.0 event with lower-cased, comma-joined headers and a text body', () => {
    const event = toHttpApiEvent({
      ...base,
      headers: {
        'X-Shopify-Topic': 'customers/update',
        'content-type': 'application/json',
        'x-dup': ['1', '2'],
      },
      body: Buffer.from('{"id":1}'),
    });
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /webhooks/shopify',
      rawPath: '/webhooks/shopify',
      rawQueryString: 'a=1&a=2&b=x',
      queryStringParameters: { a: '1,2', b: 'x' },
      headers: { 'x-shopify-topic': 'customers/update', 'x-dup': '1,2' },
      body: '{"id":1}',
      isBase64Encoded: false,
      requestContext: {
        http: { method: 'POST', path: '/webhooks/shopify' },
        stage: '$default',
        timeEpoch: base.now,
      },
    });
  });

  it('base64-encodes a body API Gateway treats as binary, so signatures see the exact bytes', () => {
    const bytes = Buffer.from([0xff, 0x00, 0x7b]);
    const event = toHttpApiEvent({
      ...base,
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? '', 'base64')).toEqual(bytes);
  });

  it('leaves the body out when there is none', () => {
    const event = toHttpApiEvent({ ...base, headers: {}, body: Buffer.alloc(0) });
    expect(event.body).toBeUndefined();
    expect(event.isBase64Encoded).toBe(false);
  });
});

describe('fromHandlerResult', () => {
  it('passes a structured answer through', () => {
    const answer = fromHandlerResult({
      statusCode: 401,
      headers: { 'Content-Type': 'application/json' },
      body: '{"error":"x"}',
    });
    expect(answer.statusCode).toBe(401);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.body.toString()).toBe('{"error":"x"}');
  });

  it('decodes a base64 answer and infers 200 JSON from a bare value, as API Gateway does', () => {
    expect(fromHandlerResult({ statusCode: 200, body: 'aGk=', isBase64Encoded: true }).body.toString()).toBe(
      'hi',
    );
    const bare = fromHandlerResult({ status: 'accepted' });
    expect(bare.statusCode).toBe(200);
    expect(JSON.parse(bare.body.toString())).toEqual({ status: 'accepted' });
  });
});
