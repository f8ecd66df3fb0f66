import { randomUUID } from 'node:crypto';
import { DeleteSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { PatchJobSchema } from '../../../lib/jobs/patch-job.js';
import { createTypeformDeps } from '../../../lib/webhooks/runtime.js';
import { handleTypeformDelivery } from '../../../lib/webhooks/typeform.js';
import {
  answerBody,
  eventBridgeEvent,
  SHOPIFY_SECRET,
  shopifyCustomerPayload,
  shopifyEvent,
  TYPEFORM_SECRET,
  typeformEvent,
  typeformPayload,
} from '../../helpers/events.js';
import { createLogCapture } from '../../helpers/webhook-deps.js';
import { createFifoQueue, createSecret, createStateTable, drainQueue } from './aws.js';

/**
 * The real handler modules against moto (Secrets Manager, SQS FIFO, DynamoDB) over real HTTP.
 * Each block imports a fresh copy of its handler after setting the environment, as a cold start would.
 */

type HttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

async function importHandler<T>(path: string, env: Record<string, string>): Promise<T> {
  vi.resetModules();
  Object.assign(process.env, env);
  try {
    return (await import(path)) as T;
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
  }
}

describe('typeform-webhook handler on moto', () => {
  let handler: HttpHandler;
  let queueUrl: string;

  beforeAll(async () => {
    queueUrl = await createFifoQueue('typeform');
    const secretId = await createSecret(`${TYPEFORM_SECRET}\n`);
    ({ handler } = await importHandler<{ handler: HttpHandler }>('../../../handlers/typeform-webhook.js', {
      TYPEFORM_WEBHOOK_SECRET_ID: secretId,
      PATCH_QUEUE_URL: queueUrl,
      STATE_TABLE_NAME: await createStateTable(),
    }));
  });

  it('verifies with the secret from Secrets Manager and puts one PatchJob on the FIFO queue', async () => {
    const response = await handler(typeformEvent());
    expect(response.statusCode).toBe(200);
    const messages = await drainQueue(queueUrl);
    expect(messages).toHaveLength(1);
    const job = PatchJobSchema.parse(JSON.parse(messages[0]?.Body ?? ''));
    expect(job.jobId).toBe('typeform:lT4Z3j:a3a12ec67a1365927098a606107fac15');
    expect(messages[0]?.Attributes?.MessageGroupId).toBe('ada@example.com');
  });

  it('refuses a forged delivery with 401 and queues nothing', async () => {
    const response = await handler(typeformEvent({ secret: 'forged' }));
    expect(response.statusCode).toBe(401);
    expect(await drainQueue(queueUrl)).toHaveLength(0);
  });

  it('answers a redelivered event_id with duplicate from the state table', async () => {
    const payload = typeformPayload({
      event_id: randomUUID(),
      form_response: { token: randomUUID().replaceAll('-', '') },
    });
    expect(answerBody(await handler(typeformEvent({ payload }))).status).toBe('accepted');
    expect(answerBody(await handler(typeformEvent({ payload }))).status).toBe('duplicate');
    expect(await drainQueue(queueUrl)).toHaveLength(1);
  });
});

describe('warm container', () => {
  it('reads the webhook secret once: later deliveries verify without calling Secrets Manager', async () => {
    const queueUrl = await createFifoQueue('warm');
    const secretId = await createSecret(TYPEFORM_SECRET);
    const { handler } = await importHandler<{ handler: HttpHandler }>(
      '../../../handlers/typeform-webhook.js',
      {
        TYPEFORM_WEBHOOK_SECRET_ID: secretId,
        PATCH_QUEUE_URL: queueUrl,
      },
    );
    expect((await handler(typeformEvent())).statusCode).toBe(200);
    // With the secret gone, only a cached value can still verify the next delivery.
    await new SecretsManagerClient({}).send(
      new DeleteSecretCommand({ SecretId: secretId, ForceDeleteWithoutRecovery: true }),
    );
    const next = typeformPayload({ event_id: randomUUID(), form_response: { token: randomUUID() } });
    expect((await handler(typeformEvent({ payload: next }))).statusCode).toBe(200);
    expect(await drainQueue(queueUrl)).toHaveLength(2);
  });
});

describe('shopify-webhook handler on moto', () => {
  let handler: HttpHandler;
  let queueUrl: string;

  beforeAll(async () => {
    queueUrl = await createFifoQueue('shopify');
    ({ handler } = await importHandler<{ handler: HttpHandler }>('../../../handlers/shopify-webhook.js', {
      SHOPIFY_WEBHOOK_SECRET_ID: await createSecret(
        JSON.stringify({ value: 'rotated', previous: SHOPIFY_SECRET }),
      ),
      PATCH_QUEUE_URL: queueUrl,
      STATE_TABLE_NAME: await createStateTable(),
    }));
  });

  it('puts the same delivery on the queue once when it arrives twice', async () => {
    const event = shopifyEvent({ webhookId: randomUUID() });
    const first = await handler(event);
    const second = await handler(event);
    expect(answerBody(first).status).toBe('accepted');
    expect(answerBody(second).status).toBe('duplicate');
    expect(await drainQueue(queueUrl)).toHaveLength(1);
  });

  it('collapses a second delivery of the same change (new webhook id) through FIFO deduplication', async () => {
    const payload = shopifyCustomerPayload({ id: 111222333, updated_at: '2026-11-26T11:00:00Z' });
    expect(answerBody(await handler(shopifyEvent({ payload, webhookId: randomUUID() }))).status).toBe(
      'accepted',
    );
    expect(answerBody(await handler(shopifyEvent({ payload, webhookId: randomUUID() }))).status).toBe(
      'accepted',
    );
    const messages = await drainQueue(queueUrl);
    expect(messages).toHaveLength(1);
    expect(JSON.parse(messages[0]?.Body ?? '{}').jobId).toBe(
      'shopify:test-shop.myshopify.com:customer:111222333:2026-11-26T11:00:00Z',
    );
  });

  it('accepts a delivery signed with the previous secret during a rotation', async () => {
    const response = await handler(
      shopifyEvent({
        secret: SHOPIFY_SECRET,
        webhookId: randomUUID(),
        payload: shopifyCustomerPayload({ id: 5 }),
      }),
    );
    expect(response.statusCode).toBe(200);
    await drainQueue(queueUrl);
  });
});

describe('queue outage', () => {
  it('answers 503 when the queue does not exist', async () => {
    const { handler } = await importHandler<{ handler: HttpHandler }>(
      '../../../handlers/shopify-webhook.js',
      {
        SHOPIFY_WEBHOOK_SECRET_ID: await createSecret(SHOPIFY_SECRET),
        PATCH_QUEUE_URL: `${process.env.AWS_ENDPOINT_URL}/000000000000/missing-${randomUUID().slice(0, 8)}.fifo`,
        STATE_TABLE_NAME: await createStateTable(),
      },
    );
    const response = await handler(shopifyEvent({ webhookId: randomUUID() }));
    expect(response.statusCode).toBe(503);
    expect(answerBody(response)).toMatchObject({ error: 'unavailable' });
  });

  it('answers 503 when the SQS endpoint refuses connections', async () => {
    const logger = createLogCapture();
    const deps = createTypeformDeps(
      {
        TYPEFORM_WEBHOOK_SECRET_ID: await createSecret(TYPEFORM_SECRET),
        PATCH_QUEUE_URL: 'http://127.0.0.1:9/000000000000/patch.fifo',
      },
      logger,
    );
    // Port 9 (discard) is closed on the test machine: the connection is refused at once.
    const refusing = new SQSClient({ endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
    const response = await handleTypeformDelivery(typeformEvent(), { ...deps, sqs: refusing });
    expect(response.statusCode).toBe(503);
    expect(logger.lines.some((line) => line.extra.dependency === 'sqs')).toBe(true);
  });
});

describe('misconfigured handler', () => {
  it('answers 503 misconfigured and logs the variables, so the platform retries', async () => {
    const { handler } = await importHandler<{ handler: HttpHandler }>(
      '../../../handlers/typeform-webhook.js',
      {
        DEFAULT_PHONE_REGION: 'usa',
      },
    );
    const response = await handler(typeformEvent());
    expect(response.statusCode).toBe(503);
    expect(answerBody(response).error).toBe('misconfigured');
  });
});

describe('shopify-eventbridge handler on moto', () => {
  it('dead-letters a truncated payload with reason payload-truncated and enqueues a full one', async () => {
    const queueUrl = await createFifoQueue('eb-patch');
    const deadLetterQueueUrl = await createFifoQueue('eb-dead');
    const { handler } = await importHandler<{ handler: (event: unknown) => Promise<void> }>(
      '../../../handlers/shopify-eventbridge.js',
      {
        PATCH_QUEUE_URL: queueUrl,
        DEAD_LETTER_QUEUE_URL: deadLetterQueueUrl,
        STATE_TABLE_NAME: await createStateTable(),
      },
    );
    await expect(
      handler(eventBridgeEvent({ topic: 'orders/create', payload: { id: 5820982911946 } })),
    ).resolves.toBeUndefined();
    await handler(eventBridgeEvent());
    const letters = await drainQueue(deadLetterQueueUrl);
    expect(letters).toHaveLength(1);
    expect(letters[0]?.MessageAttributes?.errorReason?.StringValue).toBe('payload-truncated');
    const jobs = await drainQueue(queueUrl);
    expect(jobs).toHaveLength(1);
    expect(PatchJobSchema.safeParse(JSON.parse(jobs[0]?.Body ?? '')).success).toBe(true);
  });

  it('throws when the patch queue cannot be reached, so EventBridge retries', async () => {
    const { handler } = await importHandler<{ handler: (event: unknown) => Promise<void> }>(
      '../../../handlers/shopify-eventbridge.js',
      {
        PATCH_QUEUE_URL: `${process.env.AWS_ENDPOINT_URL}/000000000000/missing-${randomUUID().slice(0, 8)}.fifo`,
        DEAD_LETTER_QUEUE_URL: await createFifoQueue('eb-dead'),
        STATE_TABLE_NAME: await createStateTable(),
      },
    );
    await expect(handler(eventBridgeEvent({ webhookId: randomUUID() }))).rejects.toMatchObject({
      code: 'dependency-unavailable',
    });
  });
});
