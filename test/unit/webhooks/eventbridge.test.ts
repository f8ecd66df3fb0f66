import { describe, expect, it } from 'vitest';
import { PatchJobSchema } from '../../../lib/jobs/patch-job.js';
import {
  handleShopifyEventBridgeEvent,
  isTruncatedPayload,
  metadataValue,
} from '../../../lib/webhooks/eventbridge.js';
import { eventBridgeEvent, shopifyOrderPayload, TEST_SHOP } from '../../helpers/events.js';
import { eventBridgeDeps } from '../../helpers/webhook-deps.js';

describe('metadataValue', () => {
  it('reads keys case-insensitively, with or without X-', () => {
    for (const key of [
      'X-Shopify-Topic',
      'x-shopify-topic',
      'Shopify-Topic',
      'shopify-topic',
      'X-SHOPIFY-TOPIC',
    ]) {
      expect(metadataValue({ [key]: 'orders/paid' }, 'X-Shopify-Topic')).toBe('orders/paid');
    }
    expect(metadataValue({ 'X-Shopify-Topic': 'a' }, 'X-Shopify-Shop-Domain')).toBeUndefined();
    expect(metadataValue(undefined, 'X-Shopify-Topic')).toBeUndefined();
  });
});

describe('isTruncatedPayload', () => {
  it('recognises a payload cut to its id, except for customers/delete which is only an id', () => {
    expect(isTruncatedPayload('orders/create', { id: 1 })).toBe(true);
    expect(isTruncatedPayload('customers/delete', { id: 1 })).toBe(false);
    expect(isTruncatedPayload('orders/create', { id: 1, email: 'x' })).toBe(false);
  });
});

describe('handleShopifyEventBridgeEvent', () => {
  it('enqueues the same job as the HTTPS path from detail.metadata and detail.payload', async () => {
    const { deps, sqs } = eventBridgeDeps();
    await handleShopifyEventBridgeEvent(eventBridgeEvent(), deps);
    const job = PatchJobSchema.parse(sqs.jobs()[0]);
    expect(job.jobId).toBe(`shopify:${TEST_SHOP}:customer:7064055069303:2026-11-26T15:00:00Z`);
    expect(sqs.sent[0]?.QueueUrl).toBe('https://sqs.local/patch.fifo');
  });

  it('reads metadata written in lower case without the X- prefix', async () => {
    const { deps, sqs } = eventBridgeDeps();
    const event = eventBridgeEvent({ topic: 'orders/paid', payload: shopifyOrderPayload() });
    const metadata = {
      'shopify-topic': 'orders/paid',
      'shopify-shop-domain': TEST_SHOP,
      'shopify-webhook-id': 'wb-1',
    };
    await handleShopifyEventBridgeEvent({ ...event, detail: { ...event.detail, metadata } }, deps);
    expect(sqs.jobs()[0]?.jobId).toMatch(/^shopify:test-shop\.myshopify\.com:order:/);
  });

  it('reads a shop domain written in capitals and keys the job by its lower-case form', async () => {
    const { deps, sqs } = eventBridgeDeps();
    const event = eventBridgeEvent();
    const metadata = { ...event.detail?.metadata, 'X-Shopify-Shop-Domain': TEST_SHOP.toUpperCase() };
    await handleShopifyEventBridgeEvent({ ...event, detail: { ...event.detail, metadata } }, deps);
    expect(sqs.jobs()[0]?.jobId).toBe(`shopify:${TEST_SHOP}:customer:7064055069303:2026-11-26T15:00:00Z`);
  });

  it('gives a dead letter a group id SQS accepts whatever the metadata holds', async () => {
    const { deps, sqs } = eventBridgeDeps();
    const event = eventBridgeEvent({ topic: 'orders/create', payload: { id: 1 } });
    const metadata = { ...event.detail?.metadata, 'X-Shopify-Shop-Domain': `bad shop ${'x'.repeat(200)}` };
    await handleShopifyEventBridgeEvent({ ...event, detail: { ...event.detail, metadata } }, deps);
    const group = String((sqs.sent[0] as { MessageGroupId?: string }).MessageGroupId);
    expect(group).toMatch(/^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/);
  });

  it('dead-letters a payload cut to {id} with reason payload-truncated', async () => {
    const { deps, sqs } = eventBridgeDeps();
    const event = eventBridgeEvent({ topic: 'orders/create', payload: { id: 5820982911946 } });
    await handleShopifyEventBridgeEvent(event, deps);
    expect(sqs.sent).toHaveLength(1);
    const letter = sqs.sent[0] as Record<string, unknown> & {
      MessageAttributes?: Record<string, { StringValue?: string }>;
    };
    expect(letter.QueueUrl).toBe('https://sqs.local/dead.fifo');
    expect(letter.MessageAttributes?.errorReason?.StringValue).toBe('payload-truncated');
    expect(JSON.parse(String(letter.MessageBody))).toEqual(event);
    expect(letter.MessageGroupId).toBe(`shopify:${TEST_SHOP}:order:5820982911946`);
    // The backfill reads customers only: the message must not promise it recovers an order.
    expect(letter.MessageAttributes?.errorMessage?.StringValue).toMatch(/backfill reads customers only/);
  });

  it.each([
    ['a customer change comes back with the next backfill', 'customers/update', /next Shopify backfill/],
    [
      'no backfill carries out a compliance request',
      'customers/redact',
      /no backfill carries out customers\/redact/,
    ],
  ])('tells the operator of a truncated payload that %s', async (_what, topic, says) => {
    const { deps, sqs } = eventBridgeDeps();
    await handleShopifyEventBridgeEvent(eventBridgeEvent({ topic, payload: { id: 7 } }), deps);
    const letter = sqs.sent[0] as { MessageAttributes?: Record<string, { StringValue?: string }> };
    expect(letter.MessageAttributes?.errorReason?.StringValue).toBe('payload-truncated');
    expect(letter.MessageAttributes?.errorMessage?.StringValue).toMatch(says);
  });

  it('dead-letters a redelivery of the same webhook under the same deduplication id', async () => {
    const { deps, sqs } = eventBridgeDeps();
    const first = eventBridgeEvent({ topic: 'orders/create', payload: { id: 1 }, webhookId: 'wh-1' });
    // EventBridge gives every delivery its own event id; X-Shopify-Webhook-Id stays the same.
    await handleShopifyEventBridgeEvent({ ...first, id: 'event-a' }, deps);
    await handleShopifyEventBridgeEvent({ ...first, id: 'event-b' }, deps);
    const other = eventBridgeEvent({ topic: 'orders/create', payload: { id: 1 }, webhookId: 'wh-2' });
    await handleShopifyEventBridgeEvent({ ...other, id: 'event-a' }, deps);
    const ids = sqs.sent.map(
      (letter) => (letter as { MessageDeduplicationId?: string }).MessageDeduplicationId,
    );
    expect(ids[0]).toBeDefined();
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it('dead-letters an event whose metadata names no topic instead of dropping it', async () => {
    const { deps, sqs } = eventBridgeDeps();
    const event = eventBridgeEvent();
    const { 'X-Shopify-Topic': _topic, ...metadata } = event.detail?.metadata ?? {};
    await handleShopifyEventBridgeEvent({ ...event, detail: { ...event.detail, metadata } }, deps);
    expect(sqs.sent).toHaveLength(1);
    const letter = sqs.sent[0] as {
      QueueUrl?: string;
      MessageAttributes?: Record<string, { StringValue?: string }>;
    };
    expect(letter.QueueUrl).toBe('https://sqs.local/dead.fifo');
    expect(letter.MessageAttributes?.errorReason?.StringValue).toBe('invalid-payload');
  });

  it('removes links for customers/delete, whose payload is only an id', async () => {
    const { deps, links, sqs } = eventBridgeDeps();
    await links.putLinks('42', { externalKey: `shopify:${TEST_SHOP}:customer:7` });
    await handleShopifyEventBridgeEvent(
      eventBridgeEvent({ topic: 'customers/delete', payload: { id: 7 } }),
      deps,
    );
    expect(links.size()).toBe(0);
    expect(sqs.sent).toHaveLength(0);
  });

  it('dead-letters a payload of the wrong shape instead of retrying it forever', async () => {
    const { deps, sqs } = eventBridgeDeps();
    await handleShopifyEventBridgeEvent(
      eventBridgeEvent({ payload: { id: 1, updated_at: 'soon', email: 'x' } }),
      deps,
    );
    const letter = sqs.sent[0] as { MessageAttributes?: Record<string, { StringValue?: string }> };
    expect(letter.MessageAttributes?.errorReason?.StringValue).toBe('invalid-payload');
    expect(letter.MessageAttributes?.errorMessage?.StringValue).toContain('updated_at');
    expect(letter.MessageAttributes?.errorMessage?.StringValue).not.toContain('soon');
  });

  it('throws when the queue cannot be reached, so EventBridge retries', async () => {
    const { deps, sqs } = eventBridgeDeps();
    sqs.fail = true;
    await expect(handleShopifyEventBridgeEvent(eventBridgeEvent(), deps)).rejects.toMatchObject({
      code: 'dependency-unavailable',
    });
  });

  it('collapses a redelivered webhook id into one job', async () => {
    const { deps, sqs } = eventBridgeDeps();
    await handleShopifyEventBridgeEvent(eventBridgeEvent({ webhookId: 'same' }), deps);
    await handleShopifyEventBridgeEvent(eventBridgeEvent({ webhookId: 'same' }), deps);
    expect(sqs.sent).toHaveLength(1);
  });

  it('ignores events of another detail-type and unhandled topics', async () => {
    const { deps, sqs } = eventBridgeDeps();
    await handleShopifyEventBridgeEvent({ ...eventBridgeEvent(), 'detail-type': 'somethingElse' }, deps);
    await handleShopifyEventBridgeEvent(
      eventBridgeEvent({ topic: 'products/update', payload: { id: 1 } }),
      deps,
    );
    expect(sqs.sent).toHaveLength(0);
  });
});
