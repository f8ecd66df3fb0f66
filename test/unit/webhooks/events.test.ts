import { readdirSync, readFileSync } from 'node:fs';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { verifyShopifySignature } from '../../../lib/sources/shopify/signature.js';
import { verifyTypeformSignature } from '../../../lib/sources/typeform/signature.js';
import {
  handleShopifyEventBridgeEvent,
  type ShopifyEventBridgeEvent,
} from '../../../lib/webhooks/eventbridge.js';
import { headerValue, readRawBody } from '../../../lib/webhooks/http.js';
import { handleShopifyDelivery } from '../../../lib/webhooks/shopify.js';
import { handleTypeformDelivery } from '../../../lib/webhooks/typeform.js';
import { LOCAL_DEFAULTS } from '../../../tools/local/defaults.js';
import { buildSampleEvents } from '../../../tools/make-events.js';
import { answerBody } from '../../helpers/events.js';
import { eventBridgeDeps, shopifyDeps, typeformDeps } from '../../helpers/webhook-deps.js';

function load(dir: string): Array<[string, unknown]> {
  return readdirSync(`events/${dir}`)
    .filter((name) => name.endsWith('.json'))
    .map((name) => [`events/${dir}/${name}`, JSON.parse(readFileSync(`events/${dir}/${name}`, 'utf8'))]);
}

const typeformFiles = load('typeform') as Array<[string, APIGatewayProxyEventV2]>;
const shopifyFiles = load('shopify') as Array<[string, APIGatewayProxyEventV2]>;
const eventBridgeFiles = load('eventbridge') as Array<[string, ShopifyEventBridgeEvent]>;

/** Expected 200 status per sample (everything else is accepted). */
const EXPECTED_STATUS: Record<string, string> = {
  'events/typeform/form-response-partial.json': 'ignored',
  'events/shopify/products-update-ignored.json': 'ignored',
};

describe('events/ samples', () => {
  it('are current: `npm run events` would write the same events', () => {
    const samples = buildSampleEvents({});
    const onDisk = new Map<string, unknown>([...typeformFiles, ...shopifyFiles, ...eventBridgeFiles]);
    expect([...onDisk.keys()].sort()).toEqual(samples.map((sample) => sample.path).sort());
    for (const sample of samples) {
      expect(onDisk.get(sample.path), sample.path).toEqual(JSON.parse(JSON.stringify(sample.event)));
    }
  });

  it.each(typeformFiles)('%s verifies with the local Typeform secret', (_path, event) => {
    const header = headerValue(event.headers, 'typeform-signature');
    expect(
      verifyTypeformSignature(readRawBody(event), header, { value: LOCAL_DEFAULTS.typeformSecret }).ok,
    ).toBe(true);
  });

  it.each(shopifyFiles)('%s verifies with the local Shopify secret', (_path, event) => {
    const header = headerValue(event.headers, 'x-shopify-hmac-sha256');
    expect(
      verifyShopifySignature(readRawBody(event), header, { value: LOCAL_DEFAULTS.shopifySecret }).ok,
    ).toBe(true);
  });

  it.each(typeformFiles)('%s is answered 200 by the Typeform pipeline', async (path, event) => {
    const { deps } = typeformDeps();
    const response = await handleTypeformDelivery(event, deps);
    expect(response.statusCode).toBe(200);
    expect(answerBody(response).status).toBe(EXPECTED_STATUS[path] ?? 'accepted');
  });

  it.each(shopifyFiles)('%s is answered 200 by the Shopify pipeline', async (path, event) => {
    const { deps } = shopifyDeps();
    const response = await handleShopifyDelivery(event, deps);
    expect(response.statusCode, response.body).toBe(200);
    expect(answerBody(response).status).toBe(EXPECTED_STATUS[path] ?? 'accepted');
  });

  it.each(eventBridgeFiles)('%s is handled by the EventBridge pipeline', async (path, event) => {
    const { deps, sqs } = eventBridgeDeps();
    await handleShopifyEventBridgeEvent(event, deps);
    const queues = sqs.sent.map((input) => input.QueueUrl);
    // Deletes and the compliance topics remove links or only log; an ignored topic does nothing.
    if (path.includes('truncated')) expect(queues).toEqual([deps.deadLetterQueueUrl]);
    else if (/delete|redact|data-request|ignored/.test(path)) expect(queues).toEqual([]);
    else expect(queues).toEqual([deps.queueUrl]);
  });
});
