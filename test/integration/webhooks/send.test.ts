import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleShopifyDelivery } from '../../../lib/webhooks/shopify.js';
import { handleTypeformDelivery } from '../../../lib/webhooks/typeform.js';
import { freePort } from '../../../tools/local/moto.js';
import { buildSendRequest, sendRequest } from '../../../tools/send.js';
import { shopifyDeps, typeformDeps } from '../../helpers/webhook-deps.js';

/**
 * `npm run send` against a local HTTP server that turns each request into an API Gateway v2
 * event for the real pipelines (in-memory queue): the signature survives a real HTTP hop.
 */

const typeform = typeformDeps();
const shopify = shopifyDeps();
let server: Server;
let base = '';

beforeAll(async () => {
  const port = await freePort();
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', async () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const event = { headers, body: Buffer.concat(chunks).toString('base64'), isBase64Encoded: true };
      const answer = req.url?.endsWith('/typeform')
        ? await handleTypeformDelivery(event, typeform.deps)
        : await handleShopifyDelivery(event, shopify.deps);
      res.writeHead(answer.statusCode, answer.headers).end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('send tool', () => {
  it('signs and posts a Typeform event file, using its body byte for byte', async () => {
    const request = buildSendRequest(
      ['typeform', 'events/typeform/form-response.json', '--url', `${base}/webhooks/typeform`],
      {},
    );
    const { status, body } = await sendRequest(request);
    expect(status).toBe(200);
    expect(JSON.parse(body).status).toBe('accepted');
  });

  it('signs a raw Shopify payload with the topic and shop given on the command line', async () => {
    const request = buildSendRequest(
      [
        'shopify',
        'test/fixtures/shopify/order.json',
        '--url',
        `${base}/webhooks/shopify`,
        '--topic',
        'orders/paid',
        '--shop',
        'x-shop.myshopify.com',
      ],
      {},
    );
    expect(request.headers['x-shopify-topic']).toBe('orders/paid');
    const { status, body } = await sendRequest(request);
    expect(status).toBe(200);
    expect(JSON.parse(body).jobId).toMatch(/^shopify:x-shop\.myshopify\.com:order:/);
  });

  it('refuses a raw Shopify payload sent to a URL without --shop instead of using the demo shop', () => {
    const args = ['shopify', 'test/fixtures/shopify/order.json', '--url', `${base}/webhooks/shopify`];
    expect(() => buildSendRequest(args, {})).toThrow(/--shop <shop>\.myshopify\.com is required with --url/);
    // Locally (no --url) the demo shop of the local stack is still the default.
    expect(
      buildSendRequest(['shopify', 'test/fixtures/shopify/order.json'], {}).headers['x-shopify-shop-domain'],
    ).toMatch(/\.myshopify\.com$/);
  });

  it('takes the topic from a Shopify event file and is refused with a wrong --secret', async () => {
    const url = `${base}/webhooks/shopify`;
    const good = buildSendRequest(['shopify', 'events/shopify/shop-redact.json', '--url', url], {});
    expect(good.headers['x-shopify-topic']).toBe('shop/redact');
    expect((await sendRequest(good)).status).toBe(200);
    const forged = buildSendRequest(
      ['shopify', 'events/shopify/shop-redact.json', '--url', url, '--secret', 'nope'],
      {},
    );
    expect((await sendRequest(forged)).status).toBe(401);
  });

  it('prints its usage on --help and exits 0, sending nothing', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'tools/send.ts', '--help']);
    expect(stdout).toMatch(/^usage: npm run send -- <typeform\|shopify> <payload\.json>/);
  });

  it('runs as a CLI, printing the status and exiting 1 on a refusal', async () => {
    const args = [
      'tsx',
      'tools/send.ts',
      'typeform',
      'events/typeform/form-response.json',
      '--url',
      `${base}/webhooks/typeform`,
    ];
    const env = { ...process.env, LOCAL_TYPEFORM_SECRET: 'not-the-local-secret' };
    await expect(promisify(execFile)('npx', args, { env })).rejects.toMatchObject({
      code: 1,
      stdout: expect.stringMatching(/-> 401/),
    });
  });
});
