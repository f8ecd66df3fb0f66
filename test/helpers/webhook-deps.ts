import type { SQSClient } from '@aws-sdk/client-sqs';
import { createMemoryDeliveryStore } from '../../lib/aws/deliveries.js';
import { createMemoryLinkStore } from '../../lib/aws/links.js';
import { parseSecretString, type SecretReader, type SecretValue } from '../../lib/aws/secrets.js';
import type { PatchJob } from '../../lib/jobs/patch-job.js';
import { loadMappingConfig } from '../../lib/sources/mapping-config.js';
import type { EventBridgeDeps } from '../../lib/webhooks/eventbridge.js';
import type { WebhookLogger } from '../../lib/webhooks/pipeline.js';
import type { ShopifyDeliveryDeps } from '../../lib/webhooks/shopify.js';
import type { TypeformDeliveryDeps } from '../../lib/webhooks/typeform.js';
import { SHOPIFY_SECRET, TYPEFORM_SECRET } from './events.js';

/** In-memory stand-ins for the webhook functions' dependencies (no AWS). */

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  extra: Record<string, unknown>;
}

export function createLogCapture(): WebhookLogger & { lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (message: string, ...extra: Array<Record<string, unknown>>) =>
      lines.push({ level, message, extra: Object.assign({}, ...extra) });
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), text: () => JSON.stringify(lines) };
}

/** A fake SQS: records SendMessage inputs; `fail` makes every send throw like an unreachable queue. */
export function createFakeSqs(options: { fail?: boolean } = {}) {
  const sent: Array<Record<string, unknown> & { QueueUrl?: string; MessageBody?: string }> = [];
  const sqs = {
    fail: options.fail ?? false,
    sent,
    jobs: () => sent.map((input) => JSON.parse(input.MessageBody ?? '{}') as PatchJob),
    async send(command: { input: Record<string, unknown> }) {
      if (sqs.fail) throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'ECONNREFUSED' });
      sent.push(command.input);
      return { MessageId: `m-${sent.length}` };
    },
  };
  return sqs as typeof sqs & Pick<SQSClient, 'send'>;
}

/** A secret reader over fixed SecretStrings (parsed like Secrets Manager values are), counting reads. */
export function createFakeSecrets(values: Record<string, string>) {
  const reads: Array<{ id: string; forceRefresh: boolean }> = [];
  const reader: SecretReader & { reads: typeof reads; values: Record<string, string> } = {
    reads,
    values,
    async get(id, options = {}): Promise<SecretValue> {
      reads.push({ id, forceRefresh: options.forceRefresh ?? false });
      return parseSecretString(id, values[id]);
    },
  };
  return reader;
}

const mapping = loadMappingConfig('');

/** The stand-ins every HTTPS delivery shares: queue, logs, delivery dedupe and one webhook secret. */
function signedDeliveryDeps(secretId: string, secret: string) {
  const sqs = createFakeSqs();
  const logger = createLogCapture();
  const secrets = createFakeSecrets({ [secretId]: secret });
  const deliveries = createMemoryDeliveryStore();
  const deps = {
    secrets,
    secretId,
    allowSecretRefresh: () => false,
    sqs,
    queueUrl: 'https://sqs.local/patch.fifo',
    deliveries,
    mapping,
    defaultPhoneRegion: 'US',
    logger,
  };
  return { deps, sqs, logger, secrets, deliveries };
}

export function typeformDeps(overrides: Partial<TypeformDeliveryDeps> = {}) {
  const base = signedDeliveryDeps('typeform-secret', TYPEFORM_SECRET);
  const deps = { ...base.deps, ...overrides } satisfies TypeformDeliveryDeps;
  return { ...base, deps };
}

export function shopifyDeps(overrides: Partial<ShopifyDeliveryDeps> = {}) {
  const base = signedDeliveryDeps('shopify-secret', SHOPIFY_SECRET);
  const links = createMemoryLinkStore();
  const deps = { ...base.deps, links, ...overrides } satisfies ShopifyDeliveryDeps;
  return { ...base, deps, links };
}

export function eventBridgeDeps(overrides: Partial<EventBridgeDeps> = {}) {
  const sqs = createFakeSqs();
  const logger = createLogCapture();
  const deliveries = createMemoryDeliveryStore();
  const links = createMemoryLinkStore();
  const deps = {
    sqs,
    queueUrl: 'https://sqs.local/patch.fifo',
    deadLetterQueueUrl: 'https://sqs.local/dead.fifo',
    deliveries,
    links,
    mapping,
    defaultPhoneRegion: 'US',
    logger,
    ...overrides,
  } satisfies EventBridgeDeps;
  return { deps, sqs, logger, deliveries, links };
}
