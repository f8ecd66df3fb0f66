import { describe, expect, it } from 'vitest';
import { DependencyError } from '../../../lib/errors.js';
import { PatchJobSchema } from '../../../lib/jobs/patch-job.js';
import { parseMappingConfig } from '../../../lib/sources/mapping-config.js';
import { handleShopifyDelivery } from '../../../lib/webhooks/shopify.js';
import {
  answerBody,
  SHOPIFY_SECRET,
  shopifyCustomerPayload,
  shopifyEvent,
  shopifyOrderPayload,
  TEST_SHOP,
  withoutHeader,
} from '../../helpers/events.js';
import { shopifyDeps } from '../../helpers/webhook-deps.js';

const customerKey = `shopify:${TEST_SHOP}:customer:7064055069303`;

describe('handleShopifyDelivery', () => {
  it('enqueues customers/update as a PatchJob keyed by shop and customer', async () => {
    const { deps, sqs } = shopifyDeps();
    const response = await handleShopifyDelivery(shopifyEvent(), deps);
    expect(response.statusCode).toBe(200);
    const jobId = `shopify:${TEST_SHOP}:customer:7064055069303:2026-11-26T15:00:00Z`;
    expect(answerBody(response)).toEqual({ status: 'accepted', jobId });
    const job = PatchJobSchema.parse(sqs.jobs()[0]);
    expect(job.match).toMatchObject({
      externalKey: customerKey,
      email: 'bob@example.com',
      phone: '+16135550135',
    });
    expect(sqs.sent[0]?.MessageGroupId).toBe(customerKey);
  });

  it('enqueues customers/create, orders/create and orders/paid', async () => {
    const { deps, sqs } = shopifyDeps();
    for (const [topic, payload] of [
      ['customers/create', shopifyCustomerPayload()],
      ['orders/create', shopifyOrderPayload()],
      ['orders/paid', shopifyOrderPayload()],
    ] as const) {
      const response = await handleShopifyDelivery(shopifyEvent({ topic, payload }), deps);
      expect(answerBody(response).status).toBe('accepted');
    }
    expect(sqs.jobs().map((job) => job.jobId.split(':')[2])).toEqual(['customer', 'order', 'order']);
  });

  it('reads headers whatever their case', async () => {
    const { deps, sqs } = shopifyDeps();
    const event = shopifyEvent();
    const upper = Object.fromEntries(
      Object.entries(event.headers).map(([key, value]) => [
        key.replace(/(^|-)[a-z]/g, (m) => m.toUpperCase()),
        value,
      ]),
    );
    expect(upper['X-Shopify-Hmac-Sha256']).toBeDefined();
    expect((await handleShopifyDelivery({ ...event, headers: upper }, deps)).statusCode).toBe(200);
    expect(sqs.sent).toHaveLength(1);
  });

  it('answers 401 to a missing signature and enqueues nothing', async () => {
    const { deps, sqs, logger } = shopifyDeps();
    const response = await handleShopifyDelivery(
      withoutHeader(shopifyEvent(), 'x-shopify-hmac-sha256'),
      deps,
    );
    expect(response.statusCode).toBe(401);
    expect(sqs.sent).toHaveLength(0);
    expect(logger.lines).toHaveLength(1);
    expect(logger.text()).not.toContain(SHOPIFY_SECRET);
  });

  it('answers 401 to a wrong secret', async () => {
    const { deps } = shopifyDeps();
    expect((await handleShopifyDelivery(shopifyEvent({ secret: 'wrong' }), deps)).statusCode).toBe(401);
  });

  it('answers 401 to a compliance topic with a bad HMAC and removes no links', async () => {
    const { deps, links } = shopifyDeps();
    await links.putLinks('42', { externalKey: customerKey, email: 'bob@example.com' });
    const payload = { shop_id: 1, shop_domain: TEST_SHOP };
    const response = await handleShopifyDelivery(
      shopifyEvent({ topic: 'shop/redact', payload, secret: 'forged' }),
      deps,
    );
    expect(response.statusCode).toBe(401);
    expect(links.size()).toBe(2);
  });

  it('answers 400 missing-topic to a verified body without X-Shopify-Topic', async () => {
    const { deps, sqs } = shopifyDeps();
    const response = await handleShopifyDelivery(withoutHeader(shopifyEvent(), 'x-shopify-topic'), deps);
    expect(response.statusCode).toBe(400);
    expect(answerBody(response).error).toBe('missing-topic');
    expect(sqs.sent).toHaveLength(0);
  });

  it('answers 200 ignored to a topic it does not handle', async () => {
    const { deps, sqs } = shopifyDeps();
    const response = await handleShopifyDelivery(
      shopifyEvent({ topic: 'products/update', payload: { id: 1 } }),
      deps,
    );
    expect(response.statusCode).toBe(200);
    expect(answerBody(response)).toMatchObject({ status: 'ignored' });
    expect(sqs.sent).toHaveLength(0);
  });

  it('answers 200 ignored to a topic the shop configuration ignores', async () => {
    const mapping = parseMappingConfig(
      { version: 1, shopify: { shops: { [TEST_SHOP]: { ignoreTopics: ['orders/paid'] } } } },
      'test',
    );
    const { deps, sqs } = shopifyDeps({ mapping });
    const response = await handleShopifyDelivery(
      shopifyEvent({ topic: 'orders/paid', payload: shopifyOrderPayload() }),
      deps,
    );
    expect(answerBody(response).status).toBe('ignored');
    expect(sqs.sent).toHaveLength(0);
  });

  it('answers 400 with field paths to a customer payload missing required fields', async () => {
    const { deps } = shopifyDeps();
    const payload = shopifyCustomerPayload({ id: undefined, updated_at: 'yesterday' });
    const response = await handleShopifyDelivery(shopifyEvent({ payload }), deps);
    expect(response.statusCode).toBe(400);
    const issues = (answerBody(response).issues as string[]).join('\n');
    expect(issues).toMatch(/^id:/m);
    expect(issues).toMatch(/^updated_at:/m);
    expect(response.body).not.toContain('yesterday');
    expect(response.body).not.toContain('bob@example.com');
  });

  it('answers 400 to a verified body without a usable shop domain', async () => {
    const { deps } = shopifyDeps();
    const response = await handleShopifyDelivery(
      withoutHeader(shopifyEvent(), 'x-shopify-shop-domain'),
      deps,
    );
    expect(response.statusCode).toBe(400);
    expect(answerBody(response).error).toBe('invalid-shop-domain');
  });

  it('answers 400 to a shop domain that only starts like <shop>.myshopify.com', async () => {
    const { deps, sqs } = shopifyDeps();
    for (const shop of [`${TEST_SHOP}.evil.example`, `${TEST_SHOP}:443`, 'shop.example.com']) {
      const response = await handleShopifyDelivery(shopifyEvent({ shop }), deps);
      expect(answerBody(response).error).toBe('invalid-shop-domain');
    }
    expect(sqs.sent).toHaveLength(0);
  });

  it('reads the shop domain case-insensitively and keys the job by its lower-case form', async () => {
    const { deps, sqs } = shopifyDeps();
    const response = await handleShopifyDelivery(
      shopifyEvent({ shop: ` ${TEST_SHOP.toUpperCase()} ` }),
      deps,
    );
    expect(response.statusCode).toBe(200);
    expect(sqs.sent[0]?.MessageGroupId).toBe(customerKey);
  });

  it('answers 400 to a JSON array and to a non-JSON body', async () => {
    const { deps } = shopifyDeps();
    expect((await handleShopifyDelivery(shopifyEvent({ body: '[1,2]' }), deps)).statusCode).toBe(400);
    const notJson = await handleShopifyDelivery(shopifyEvent({ body: '<xml/>' }), deps);
    expect(answerBody(notJson).error).toBe('invalid-json');
  });

  it('answers 413 to a base64 body over 1 MiB', async () => {
    const { deps, secrets } = shopifyDeps();
    const big = JSON.stringify(shopifyCustomerPayload({ note: 'x'.repeat(1024 * 1024) }));
    const response = await handleShopifyDelivery(shopifyEvent({ body: big, base64: true }), deps);
    expect(response.statusCode).toBe(413);
    expect(secrets.reads).toHaveLength(0);
  });

  it('keeps a null phone out of the patch and still enqueues', async () => {
    const { deps, sqs } = shopifyDeps();
    const response = await handleShopifyDelivery(
      shopifyEvent({ payload: shopifyCustomerPayload({ phone: null }) }),
      deps,
    );
    expect(answerBody(response).status).toBe('accepted');
    const job = sqs.jobs()[0];
    expect(job?.patch.phone).toBeUndefined();
    expect(job?.match?.phone).toBeUndefined();
  });

  it('enqueues a guest order matched by its email, without an external key', async () => {
    const { deps, sqs } = shopifyDeps();
    const payload = shopifyOrderPayload({ customer: undefined, email: 'Guest@Example.com' });
    const response = await handleShopifyDelivery(shopifyEvent({ topic: 'orders/create', payload }), deps);
    expect(answerBody(response).status).toBe('accepted');
    const job = PatchJobSchema.parse(sqs.jobs()[0]);
    expect(job.match?.externalKey).toBeUndefined();
    expect(job.match?.email).toBe('guest@example.com');
    expect(sqs.sent[0]?.MessageGroupId).toBe('guest@example.com');
  });

  it('keeps unicode names intact', async () => {
    const { deps, sqs } = shopifyDeps();
    const payload = shopifyCustomerPayload({ first_name: 'Zoë', last_name: '大久保' });
    expect((await handleShopifyDelivery(shopifyEvent({ payload }), deps)).statusCode).toBe(200);
    expect(sqs.jobs()[0]?.patch).toMatchObject({ firstName: 'Zoë', lastName: '大久保' });
  });

  it('accepts the previous secret during a rotation', async () => {
    const { deps, secrets } = shopifyDeps();
    secrets.values['shopify-secret'] = JSON.stringify({ value: 'rotated', previous: SHOPIFY_SECRET });
    expect((await handleShopifyDelivery(shopifyEvent(), deps)).statusCode).toBe(200);
    expect(
      (await handleShopifyDelivery(shopifyEvent({ secret: 'rotated', webhookId: 'w2' }), deps)).statusCode,
    ).toBe(200);
    expect(
      (await handleShopifyDelivery(shopifyEvent({ secret: 'older', webhookId: 'w3' }), deps)).statusCode,
    ).toBe(401);
  });

  it('answers duplicate to the same X-Shopify-Webhook-Id', async () => {
    const { deps, sqs } = shopifyDeps();
    await handleShopifyDelivery(shopifyEvent({ webhookId: 'w-1' }), deps);
    const again = await handleShopifyDelivery(shopifyEvent({ webhookId: 'w-1' }), deps);
    expect(answerBody(again)).toMatchObject({ status: 'duplicate', deliveryId: 'w-1' });
    expect(sqs.sent).toHaveLength(1);
  });

  it('answers 503 when the queue is unreachable', async () => {
    const { deps, sqs } = shopifyDeps();
    sqs.fail = true;
    const response = await handleShopifyDelivery(shopifyEvent(), deps);
    expect(response.statusCode).toBe(503);
    expect(answerBody(response)).toMatchObject({ error: 'unavailable' });
  });

  describe('compliance topics', () => {
    it('customers/delete removes the customer links and enqueues no PATCH', async () => {
      const { deps, sqs, links } = shopifyDeps();
      await links.putLinks('42', { externalKey: customerKey, email: 'bob@example.com' });
      const response = await handleShopifyDelivery(
        shopifyEvent({ topic: 'customers/delete', payload: { id: 7064055069303 } }),
        deps,
      );
      expect(answerBody(response)).toEqual({ status: 'accepted', removedLinks: 2 });
      expect(links.size()).toBe(0);
      expect(sqs.sent).toHaveLength(0);
    });

    it('customers/redact removes the links of the customer, including its email and phone', async () => {
      const { deps, links } = shopifyDeps();
      await links.putLinks('42', { externalKey: customerKey });
      await links.putLinks('42', { email: 'bob@example.com' });
      await links.putLinks('43', { externalKey: `shopify:${TEST_SHOP}:customer:999` });
      const payload = {
        shop_id: 1,
        shop_domain: TEST_SHOP,
        customer: { id: 7064055069303, email: ' Bob@Example.com', phone: '+16135550135' },
        orders_to_redact: [],
      };
      const response = await handleShopifyDelivery(
        shopifyEvent({ topic: 'customers/redact', payload }),
        deps,
      );
      expect(answerBody(response)).toEqual({ status: 'accepted', removedLinks: 2 });
      expect(links.size()).toBe(1);
    });

    it('customers/redact removes email and phone links learned elsewhere, reading a national phone', async () => {
      const { deps, links } = shopifyDeps();
      // Linked by a Typeform job, never with this customer's external key.
      await links.putLinks('42', { phone: '+16135550135' });
      await links.putLinks('43', { email: 'bob@example.com' });
      await links.putLinks('44', { phone: '+16135550199' });
      const payload = {
        shop_id: 1,
        shop_domain: TEST_SHOP,
        customer: { id: 5, email: 'Bob@Example.com', phone: '(613) 555-0135' },
        orders_to_redact: [],
      };
      const response = await handleShopifyDelivery(
        shopifyEvent({ topic: 'customers/redact', payload }),
        deps,
      );
      expect(answerBody(response)).toEqual({ status: 'accepted', removedLinks: 2 });
      expect(await links.resolve({ phone: '+16135550135' })).toBe(undefined);
      expect(await links.resolve({ phone: '+16135550199' })).toBe('44');
    });

    it('customers/redact keeps a 64-bit customer id exact (no gid in compliance payloads)', async () => {
      const { deps, links } = shopifyDeps();
      // 706405506930370084 is above 2^53: a plain JSON.parse reads it as 706405506930370000.
      await links.putLinks('42', { externalKey: `shopify:${TEST_SHOP}:customer:706405506930370084` });
      await links.putLinks('43', { externalKey: `shopify:${TEST_SHOP}:customer:706405506930370000` });
      const body = `{"shop_id":954889,"shop_domain":"${TEST_SHOP}","customer":{"id":706405506930370084,"email":"john@example.com","phone":"555-625-1199"},"orders_to_redact":[1230240423,1230240424]}`;
      const response = await handleShopifyDelivery(shopifyEvent({ topic: 'customers/redact', body }), deps);
      expect(answerBody(response)).toEqual({ status: 'accepted', removedLinks: 1 });
      expect(await links.resolve({ externalKey: `shopify:${TEST_SHOP}:customer:706405506930370084` })).toBe(
        undefined,
      );
      expect(await links.resolve({ externalKey: `shopify:${TEST_SHOP}:customer:706405506930370000` })).toBe(
        '43',
      );
    });

    it('keeps a 64-bit customer id exact whatever the case of X-Shopify-Topic', async () => {
      const { deps, links } = shopifyDeps();
      await links.putLinks('42', { externalKey: `shopify:${TEST_SHOP}:customer:706405506930370084` });
      await links.putLinks('43', { externalKey: `shopify:${TEST_SHOP}:customer:706405506930370000` });
      const body = `{"shop_id":954889,"shop_domain":"${TEST_SHOP}","customer":{"id":706405506930370084},"orders_to_redact":[]}`;
      const response = await handleShopifyDelivery(shopifyEvent({ topic: 'Customers/Redact', body }), deps);
      expect(answerBody(response)).toEqual({ status: 'accepted', removedLinks: 1 });
      expect(await links.resolve({ externalKey: `shopify:${TEST_SHOP}:customer:706405506930370000` })).toBe(
        '43',
      );
    });

    it('takes the shop from the payload shop_domain when X-Shopify-Shop-Domain is absent', async () => {
      const { deps, links } = shopifyDeps();
      await links.putLinks('42', { externalKey: customerKey });
      await links.putLinks('44', { externalKey: 'shopify:other.myshopify.com:customer:1' });
      const payload = { shop_id: 1, shop_domain: ` ${TEST_SHOP.toUpperCase()} ` };
      const response = await handleShopifyDelivery(
        withoutHeader(shopifyEvent({ topic: 'shop/redact', payload }), 'x-shopify-shop-domain'),
        deps,
      );
      expect(answerBody(response)).toEqual({ status: 'accepted', removedLinks: 1 });
      expect(await links.resolve({ externalKey: 'shopify:other.myshopify.com:customer:1' })).toBe('44');
    });

    it('shop/redact removes every link of the shop', async () => {
      const { deps, links } = shopifyDeps();
      await links.putLinks('42', { externalKey: customerKey, email: 'bob@example.com' });
      await links.putLinks('43', { externalKey: `shopify:${TEST_SHOP}:customer:999` });
      await links.putLinks('44', { externalKey: 'shopify:other.myshopify.com:customer:1' });
      const payload = { shop_id: 1, shop_domain: TEST_SHOP };
      const response = await handleShopifyDelivery(shopifyEvent({ topic: 'shop/redact', payload }), deps);
      expect(answerBody(response)).toEqual({ status: 'accepted', removedLinks: 3 });
      expect(links.size()).toBe(1);
    });

    it('customers/data_request answers 200 and logs ids only', async () => {
      const { deps, logger, sqs } = shopifyDeps();
      const payload = {
        shop_id: 1,
        shop_domain: TEST_SHOP,
        customer: { id: 7064055069303, email: 'bob@example.com', phone: '+16135550135' },
        orders_requested: [],
        data_request: { id: 9999 },
      };
      const response = await handleShopifyDelivery(
        shopifyEvent({ topic: 'customers/data_request', payload }),
        deps,
      );
      expect(response.statusCode).toBe(200);
      expect(answerBody(response).status).toBe('accepted');
      const line = logger.lines.find((l) => l.message.includes('data request'));
      expect(line?.extra).toMatchObject({ customerId: '7064055069303', dataRequestId: '9999' });
      expect(logger.text()).not.toContain('bob@example.com');
      expect(sqs.sent).toHaveLength(0);
    });

    it('answers 503 when the state table fails during a redact, so Shopify retries', async () => {
      const { deps } = shopifyDeps({
        links: {
          removeCustomerLinks: () => Promise.reject(new DependencyError('dynamodb', 'down')),
          removeShopLinks: () => Promise.resolve(0),
        },
      });
      const response = await handleShopifyDelivery(
        shopifyEvent({ topic: 'customers/delete', payload: { id: 1 } }),
        deps,
      );
      expect(response.statusCode).toBe(503);
    });
  });
});
