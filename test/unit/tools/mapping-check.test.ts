import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadMappingConfig } from '../../../lib/sources/mapping-config.js';
import { LOCAL_DEFAULTS } from '../../../tools/local/defaults.js';
import { type CheckOptions, checkMapping, readSample } from '../../../tools/mapping-check.js';

const config = loadMappingConfig('');
const base: CheckOptions = { config, shop: 'example.myshopify.com', region: 'US' };

function samples(dir: string): string[] {
  return readdirSync(`events/${dir}`)
    .filter((name) => name.endsWith('.json'))
    .map((name) => `events/${dir}/${name}`);
}

/** What the check makes of a file, the way the CLI reads it (options from the file, else the defaults). */
function checkFile(path: string) {
  const sample = readSample(JSON.parse(readFileSync(path, 'utf8')));
  return checkMapping(sample.payload, {
    ...base,
    source: sample.source,
    topic: sample.topic,
    shop: sample.shop ?? base.shop,
  });
}

/** What the check makes of the raw fixture the sample was built from, with the sample's topic and shop. */
function checkFixture(fixture: string, topic?: string) {
  const payload: unknown = JSON.parse(readFileSync(`test/fixtures/${fixture}`, 'utf8'));
  return checkMapping(payload, { ...base, topic, shop: LOCAL_DEFAULTS.shopifyShop });
}

describe('mapping-check on the events/ samples', () => {
  it('reads the body of an HTTP API event (base64 too) and maps it like the bare Typeform payload', () => {
    const expected = checkFixture('typeform/form-response.json');
    expect(expected[0]?.status).toBe('mapped');
    expect(checkFile('events/typeform/form-response.json')).toEqual(expected);
    expect(checkFile('events/typeform/form-response-base64.json')).toEqual(expected);
  });

  it('takes the topic and the shop of a Shopify sample from its headers', () => {
    const order = checkFile('events/shopify/orders-paid.json');
    expect(order).toEqual(checkFixture('shopify/order.json', 'orders/paid'));
    const [record] = order;
    expect(record?.status === 'mapped' && record.outcome.kind === 'job' && record.outcome.job.jobId).toBe(
      `shopify:${LOCAL_DEFAULTS.shopifyShop}:order:820982911946154508:2026-11-26T07:06:00Z`,
    );
    expect(checkFile('events/shopify/customers-delete.json')).toEqual([
      {
        status: 'no-patch',
        reason: 'customers/delete removes links in the state table; it never patches a contact',
      },
    ]);
  });

  it('takes the payload, topic and shop of an EventBridge sample from its detail', () => {
    expect(checkFile('events/eventbridge/customers-update.json')).toEqual(
      checkFixture('shopify/customer.json', 'customers/update'),
    );
    expect(checkFile('events/eventbridge/orders-create-truncated.json')).toEqual([
      {
        status: 'no-patch',
        reason:
          'the payload was cut down to its id (over 1 MB): the EventBridge function dead-letters it as payload-truncated',
      },
    ]);
  });

  it.each([...samples('typeform'), ...samples('shopify'), ...samples('eventbridge')])(
    '%s is checked without an error',
    (path) => {
      expect(() => checkFile(path)).not.toThrow();
    },
  );

  it('leaves a bare payload as it is', () => {
    const payload = { id: 1, updated_at: '2026-11-26T10:00:00Z' };
    expect(readSample(payload)).toEqual({ payload });
  });

  it('refuses an HTTP API event whose body is not JSON, without echoing the body', () => {
    expect(() => readSample({ version: '2.0', body: 'Ada Lovelace, ada@example.com', headers: {} })).toThrow(
      /^the event's body is not JSON$/,
    );
  });
});
