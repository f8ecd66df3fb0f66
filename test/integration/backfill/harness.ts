import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createCheckpointStore } from '../../../lib/aws/checkpoints.js';
import { createSecretCache } from '../../../lib/aws/secrets.js';
import { enqueuePatchJobs } from '../../../lib/aws/sqs.js';
import { createBackfillDeps } from '../../../lib/backfill/create-backfill.js';
import type { HttpFetch } from '../../../lib/backfill/http.js';
import { loadConfig } from '../../../lib/config.js';
import type { PatchJob } from '../../../lib/jobs/patch-job.js';
import { parseMappingConfig } from '../../../lib/sources/mapping-config.js';
import { provisionStack } from '../../../tools/provision.js';
import type { FakeClock } from '../../helpers/fake-clock.js';

const sqs = new SQSClient({});
const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const secretsClient = new SecretsManagerClient({});

/** A fresh queue, DLQ and state table on moto (D's provisionStack), unique per call. */
export async function provisionTestStack() {
  return provisionStack({ prefix: `bf-${randomUUID().slice(0, 8)}` });
}

export async function createTestSecret(value: string): Promise<string> {
  const id = `test/backfill/${randomUUID()}`;
  await secretsClient.send(new CreateSecretCommand({ Name: id, SecretString: JSON.stringify({ value }) }));
  return id;
}

export async function queueDepth(queueUrl: string): Promise<number> {
  const out = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(out.Attributes?.ApproximateNumberOfMessages ?? 0);
}

/**
 * Builds the production wiring (createBackfillDeps) against moto and the stand-ins, with the
 * fake clock, and records every job that went to the real queue.
 */
export function buildDeps(args: {
  env: Record<string, string>;
  clock: FakeClock;
  mapping?: unknown;
  pageSizes?: { typeform?: number; shopify?: number };
  onEnqueue?: (jobs: readonly PatchJob[]) => Promise<void> | void;
  /** Replaces the global fetch (to watch when requests leave). */
  fetch?: HttpFetch;
  /** Another module instance's createBackfillDeps: a second container, with its own module state. */
  createDeps?: typeof createBackfillDeps;
}) {
  const config = loadConfig({ ...process.env, ...args.env }, ['PATCH_QUEUE_URL', 'STATE_TABLE_NAME']);
  const enqueued: PatchJob[] = [];
  const deps = (args.createDeps ?? createBackfillDeps)(
    config,
    { sqs, dynamodb, secrets: createSecretCache({ client: secretsClient }) },
    {
      mapping: parseMappingConfig(args.mapping ?? {}, 'test'),
      now: args.clock.now,
      sleep: args.clock.sleep,
      random: () => 0.5,
      ...(args.pageSizes ? { pageSizes: args.pageSizes } : {}),
      ...(args.fetch ? { fetch: args.fetch } : {}),
      enqueue: async (jobs) => {
        await args.onEnqueue?.(jobs);
        await enqueuePatchJobs(sqs, config.PATCH_QUEUE_URL, jobs, { sleep: args.clock.sleep });
        enqueued.push(...jobs);
      },
    },
  );
  const store = createCheckpointStore({ client: dynamodb, tableName: config.STATE_TABLE_NAME });
  return { deps, config, enqueued, store };
}
