/**
 * `npm run send -- <typeform|shopify> <payload.json> [--url …] [--topic …] [--shop …] [--secret …] [--webhook-id …]`
 *
 * Signs a payload like the platform would and POSTs it to a webhook endpoint (local `npm start`
 * or a deployment), printing the status and the answer. The file is a raw payload, or an
 * API Gateway event from `events/` (its body is sent byte for byte; its Shopify headers supply
 * the topic and shop unless given; with `--url` a Shopify shop must come from one of the two).
 * Secret: `--secret`, else `LOCAL_TYPEFORM_SECRET` /
 * `LOCAL_SHOPIFY_SECRET`, else the documented local default. Exit code 1 on an answer >= 400.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { computeShopifySignature } from '../lib/sources/shopify/signature.js';
import { computeTypeformSignature } from '../lib/sources/typeform/signature.js';
import { headerValue, readRawBody, type WebhookRequest } from '../lib/webhooks/http.js';
import {
  LOCAL_DEFAULTS,
  localShopifySecret,
  localShopifyShop,
  localTypeformSecret,
} from './local/defaults.js';

const USAGE =
  'usage: npm run send -- <typeform|shopify> <payload.json> [--url URL] [--topic TOPIC] [--shop SHOP] [--secret SECRET] [--webhook-id ID]';

export interface SendRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** Reads a payload file: a raw payload, or an API Gateway event whose body (and headers) are used. */
export function readPayloadFile(text: string): { body: Buffer; headers: Record<string, string | undefined> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { body: Buffer.from(text, 'utf8'), headers: {} };
  }
  const event = parsed as { version?: unknown; body?: unknown; isBase64Encoded?: unknown; headers?: unknown };
  if (event && typeof event === 'object' && event.version === '2.0' && typeof event.body === 'string') {
    const request = event as WebhookRequest;
    return { body: readRawBody(request), headers: { ...request.headers } };
  }
  return { body: Buffer.from(text.trimEnd(), 'utf8'), headers: {} };
}

/**
 * Builds the signed request from command-line arguments.
 * @throws {Error} with the usage line when the arguments are wrong
 */
export function buildSendRequest(
  argv: readonly string[],
  env: Record<string, string | undefined>,
): SendRequest {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      topic: { type: 'string' },
      shop: { type: 'string' },
      secret: { type: 'string' },
      'webhook-id': { type: 'string' },
    },
  });
  const [source, file] = positionals;
  if ((source !== 'typeform' && source !== 'shopify') || !file) throw new Error(USAGE);
  const { body, headers: fileHeaders } = readPayloadFile(readFileSync(file, 'utf8'));
  const port = env.PORT?.trim() || String(LOCAL_DEFAULTS.port);
  const url = values.url ?? `http://localhost:${port}/webhooks/${source}`;
  if (source === 'typeform') {
    const secret = values.secret ?? localTypeformSecret(env);
    return {
      url,
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Typeform Webhooks',
        'typeform-signature': computeTypeformSignature(body, secret),
      },
    };
  }
  const secret = values.secret ?? localShopifySecret(env);
  const shop = values.shop ?? headerValue(fileHeaders, 'x-shopify-shop-domain');
  // The local demo shop only for the local stack: sent to a deployment, its jobIds and links
  // would be filed under a shop that does not exist.
  if (shop === undefined && values.url !== undefined) {
    throw new Error(`--shop <shop>.myshopify.com is required with --url (the file names no shop)\n${USAGE}`);
  }
  return {
    url,
    body,
    headers: {
      'content-type': 'application/json',
      'x-shopify-hmac-sha256': computeShopifySignature(body, secret),
      'x-shopify-topic': values.topic ?? headerValue(fileHeaders, 'x-shopify-topic') ?? 'customers/update',
      'x-shopify-shop-domain': shop ?? localShopifyShop(env),
      'x-shopify-api-version': headerValue(fileHeaders, 'x-shopify-api-version') ?? '2025-10',
      // A fresh id per send, so repeated sends are new deliveries unless --webhook-id says otherwise.
      'x-shopify-webhook-id': values['webhook-id'] ?? randomUUID(),
      'x-shopify-triggered-at': new Date().toISOString(),
    },
  };
}

/** POSTs a signed request and returns the status and the answer text. */
export async function sendRequest(request: SendRequest): Promise<{ status: number; body: string }> {
  const response = await fetch(request.url, {
    method: 'POST',
    headers: request.headers,
    body: new Uint8Array(request.body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, body: await response.text() };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  let request: SendRequest;
  try {
    request = buildSendRequest(argv, process.env);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  try {
    const { status, body } = await sendRequest(request);
    console.log(`POST ${request.url} -> ${status}`);
    console.log(body);
    process.exitCode = status >= 400 ? 1 : 0;
  } catch (error) {
    console.error(`POST ${request.url} failed: ${(error as Error).message}`);
    console.error('Is the local stack running? Start it with `npm start`, or pass --url.');
    process.exitCode = 1;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
