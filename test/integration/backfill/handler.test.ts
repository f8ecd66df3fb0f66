import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BackfillFailedError, BackfillSummary } from '../../../lib/backfill/run-backfill.js';
import { ValidationError } from '../../../lib/errors.js';
import { startShopifyApiStandin } from '../../../tools/standins/shopify-api.js';
import { startTypeformApiStandin } from '../../../tools/standins/typeform-api.js';
import { createTestSecret, provisionTestStack, queueDepth } from './harness.js';

const FORM = 'lT4Z3j';
const SHOP = 'handler-shop.myshopify.com';
const stops: (() => Promise<void>)[] = [];
let handler: (event: unknown, context: Context) => Promise<BackfillSummary>;
let queueUrl = '';

const event = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../../events/backfill/${name}`, import.meta.url), 'utf8'));
const context = { getRemainingTimeInMillis: () => 60_000 } as Context;

beforeAll(async () => {
  // One page per source, so the real pacer never has to wait.
  const typeform = await startTypeformApiStandin({ token: 'tfp_h', forms: { [FORM]: { count: 7 } } });
  const shopify = await startShopifyApiStandin({ token: 'shpat_h', shop: SHOP, customers: 6 });
  stops.push(typeform.stop, shopify.stop);
  const stack = await provisionTestStack();
  queueUrl = stack.PATCH_QUEUE_URL;
  const dir = mkdtempSync(join(tmpdir(), 'backfill-'));
  const mappings = join(dir, 'mappings.json');
  writeFileSync(mappings, JSON.stringify({ typeform: { forms: { [FORM]: { backfill: true } } } }));
  vi.stubEnv('PATCH_QUEUE_URL', stack.PATCH_QUEUE_URL);
  vi.stubEnv('STATE_TABLE_NAME', stack.STATE_TABLE_NAME);
  vi.stubEnv('TYPEFORM_API_TOKEN_SECRET_ID', await createTestSecret('tfp_h'));
  vi.stubEnv('TYPEFORM_API_BASE_URL', typeform.url);
  vi.stubEnv('SHOPIFY_SHOP_DOMAIN', SHOP);
  vi.stubEnv('SHOPIFY_ADMIN_BASE_URL', shopify.url);
  vi.stubEnv('SHOPIFY_ADMIN_TOKEN_SECRET_ID', await createTestSecret('shpat_h'));
  vi.stubEnv('MAPPINGS_FILE', mappings);
  vi.stubEnv('POWERTOOLS_DEV', 'false');
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  ({ handler } = await import('../../../handlers/backfill.js'));
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await Promise.all(stops.map((stop) => stop()));
});

/**
 * Runs `invoke` on a fresh cold start of the handler that logs at INFO (the level is read when the
 * logger is made); returns its result and the log lines it wrote.
 */
async function invokeLogging<T>(
  invoke: (logging: typeof handler) => Promise<T>,
): Promise<{ result: T; lines: string[] }> {
  const writes: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    vi.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
      writes.push(String(chunk));
      return true;
    }),
  );
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
  vi.resetModules();
  try {
    const { handler: logging } = await import('../../../handlers/backfill.js');
    return { result: await invoke(logging), lines: writes.join('').split('\n') };
  } finally {
    for (const spy of spies) spy.mockRestore();
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
  }
}

describe('handlers/backfill', () => {
  it('runs every configured source from its checkpoint on the schedule', async () => {
    const summary = await handler(event('scheduled.json'), context);
    expect(summary.trigger).toBe('schedule');
    expect(summary.done).toBe(true);
    expect(summary.sources.map((s) => [s.source, s.scope, s.recordsSeen, s.jobsEnqueued])).toEqual(
      expect.arrayContaining([
        ['typeform', FORM, 7, 7],
        ['shopify', SHOP, 6, 6],
      ]),
    );
    expect(await queueDepth(queueUrl)).toBe(13);
  });

  it('answers the sample direct request (a dry run) without touching the queue', async () => {
    const before = await queueDepth(queueUrl);
    const request = { ...event('request-typeform.json'), until: new Date().toISOString(), since: undefined };
    const summary = await handler(request, context);
    expect(summary).toMatchObject({ trigger: 'request', dryRun: true, done: true });
    expect(summary.sources[0]).toMatchObject({ scope: FORM, recordsSeen: 7, jobsEnqueued: 0 });
    expect(summary.sources[0]?.samples).toHaveLength(3);
    expect(await queueDepth(queueUrl)).toBe(before);
  });

  it('fails the invocation when a scope stops on an error, after logging the summary', async () => {
    // A form the account does not have: Typeform answers 404, the scope stops on an error.
    const { result: error, lines } = await invokeLogging((logging) =>
      logging({ source: 'typeform', formIds: ['missing'] }, context).catch((e: unknown) => e),
    );
    // A fresh module graph: the class of that graph, so compare by name.
    expect((error as BackfillFailedError).name).toBe('BackfillFailedError');
    expect((error as BackfillFailedError).failed).toEqual(['typeform missing (config)']);
    const summaryLine = lines.find((line) => line.includes('backfill finished with errors'));
    expect(JSON.parse(summaryLine ?? '{}')).toMatchObject({
      level: 'ERROR',
      sources: [{ source: 'typeform', scope: 'missing', stoppedBy: 'error' }],
    });
  });

  it('logs a scope that lost its checkpoint to an overlapping run at INFO and does not fail', async () => {
    const send = DynamoDBDocumentClient.prototype.send as (
      this: DynamoDBDocumentClient,
      command: unknown,
    ) => Promise<unknown>;
    let raced = false;
    // The first checkpoint write goes out twice: the first copy stands for an overlapping run
    // that got there first, so the handler's own conditional write meets a newer revision.
    const spy = vi.spyOn(DynamoDBDocumentClient.prototype, 'send').mockImplementation(async function (
      this: DynamoDBDocumentClient,
      command: unknown,
    ) {
      if (!raced && command instanceof PutCommand && command.input.Item?.kind === 'checkpoint') {
        raced = true;
        await send.call(this, command);
      }
      return send.call(this, command);
    });
    let run: Awaited<ReturnType<typeof invokeLogging<BackfillSummary>>>;
    try {
      run = await invokeLogging((logging) => logging(event('scheduled.json'), context));
    } finally {
      spy.mockRestore();
    }
    expect(raced).toBe(true);
    expect(run.result.sources.filter((s) => s.stoppedBy === 'conflict')).toHaveLength(1);
    const finished = run.lines
      .filter((line) => line.includes('backfill finished'))
      .map((line) => JSON.parse(line) as { level: string; message: string });
    expect(finished).toEqual([expect.objectContaining({ level: 'INFO', message: 'backfill finished' })]);
  });

  it('rejects a malformed request with an error that says what is expected', async () => {
    const error = await handler({ source: 'typeform', maxRecords: 'lots' }, context).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as Error).message).toMatch(/maxRecords/);
    expect((error as Error).message).toMatch(/Expected \{"source"/);
  });
});
