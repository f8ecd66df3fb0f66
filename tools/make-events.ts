/**
 * `npm run events`: writes the sample events in `events/typeform`, `events/shopify` and
 * `events/eventbridge` from the payload fixtures in `test/fixtures/`, signed with the documented
 * local secrets (tools/local/defaults.ts). Use them with `serverless invoke local -f <fn> -p <file>`
 * or `npm run send`. A unit test checks the files are current and verify.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { localShopifySecret, localShopifyShop, localTypeformSecret } from './local/defaults.js';
import {
  buildShopifyEvent,
  buildShopifyEventBridgeEvent,
  buildTypeformEvent,
} from './local/webhook-events.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A fixture's exact text (trailing newline trimmed): bodies are signed byte for byte, never re-serialised. */
function fixture(name: string): string {
  return readFileSync(join(ROOT, 'test/fixtures', name), 'utf8').trimEnd();
}

export interface SampleEvent {
  /** Path relative to the repository root. */
  readonly path: string;
  readonly event: unknown;
  /** For EventBridge samples: the raw payload text spliced in, so ids above 2^53 survive exactly. */
  readonly rawPayload?: string;
}

const SHOPIFY_SAMPLES: Array<[file: string, topic: string, fixtureName: string]> = [
  ['customers-create', 'customers/create', 'shopify/customer.json'],
  ['customers-update', 'customers/update', 'shopify/customer.json'],
  ['customers-delete', 'customers/delete', 'shopify/customer-delete.json'],
  ['orders-create', 'orders/create', 'shopify/order.json'],
  ['orders-paid', 'orders/paid', 'shopify/order.json'],
  ['orders-create-guest', 'orders/create', 'shopify/guest-order.json'],
  ['customers-redact', 'customers/redact', 'shopify/customers-redact.json'],
  ['shop-redact', 'shop/redact', 'shopify/shop-redact.json'],
  ['customers-data-request', 'customers/data_request', 'shopify/customers-data-request.json'],
  ['products-update-ignored', 'products/update', 'shopify/customer-delete.json'],
];

/** Every sample event, built from the fixtures and the local secrets in `env`. */
export function buildSampleEvents(env: Record<string, string | undefined> = process.env): SampleEvent[] {
  const typeformSecret = localTypeformSecret(env);
  const shopifySecret = localShopifySecret(env);
  const shop = localShopifyShop(env);
  const typeformBody = fixture('typeform/form-response.json');
  const partial = JSON.parse(typeformBody) as Record<string, unknown>;
  partial.event_type = 'form_response_partial';
  partial.event_id = `${String(partial.event_id)}-partial`;

  const samples: SampleEvent[] = [
    {
      path: 'events/typeform/form-response.json',
      event: buildTypeformEvent(typeformBody, { secret: typeformSecret }),
    },
    {
      path: 'events/typeform/form-response-base64.json',
      event: buildTypeformEvent(typeformBody, { secret: typeformSecret, base64: true }),
    },
    {
      path: 'events/typeform/form-response-partial.json',
      event: buildTypeformEvent(JSON.stringify(partial), { secret: typeformSecret }),
    },
  ];
  for (const [file, topic, name] of SHOPIFY_SAMPLES) {
    samples.push({
      path: `events/shopify/${file}.json`,
      event: buildShopifyEvent(fixture(name), { secret: shopifySecret, topic, shop }),
    });
  }
  // The same topics through EventBridge (no signature: EventBridge authenticates the partner source).
  for (const [file, topic, name] of SHOPIFY_SAMPLES) {
    const rawPayload = fixture(name);
    samples.push({
      path: `events/eventbridge/${file}.json`,
      event: buildShopifyEventBridgeEvent(JSON.parse(rawPayload), { topic, shop }),
      rawPayload,
    });
  }
  samples.push({
    path: 'events/eventbridge/orders-create-truncated.json',
    // Shopify cuts an event over 1 MB down to its id; the function dead-letters it.
    event: buildShopifyEventBridgeEvent({ id: 450789469 }, { topic: 'orders/create', shop }),
  });
  return samples;
}

/** The file text of a sample (2-space JSON; EventBridge payloads spliced in from the raw fixture). */
export function renderSample(sample: SampleEvent): string {
  if (sample.rawPayload === undefined) return `${JSON.stringify(sample.event, null, 2)}\n`;
  const marker = '"__RAW_PAYLOAD__"';
  const event = sample.event as { detail: Record<string, unknown> };
  const text = JSON.stringify({ ...event, detail: { ...event.detail, payload: '__RAW_PAYLOAD__' } }, null, 2);
  return `${text.replace(marker, () => sample.rawPayload ?? 'null')}\n`;
}

function main(): void {
  for (const sample of buildSampleEvents()) {
    const path = join(ROOT, sample.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, renderSample(sample));
    console.log(`wrote ${sample.path}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
