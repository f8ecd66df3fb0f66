/**
 * `npm run bench:backfill [-- --sizes 1000,100000] [--sources typeform,shopify] [--heap-mb 128] [--json <file>]`
 *
 * Records/s and peak memory of the backfill for each size, against the local stand-ins over
 * real HTTP, with real pacing (Typeform 2 requests/s; Shopify's cost bucket), real DynamoDB
 * checkpoints on moto, and the production wiring (createBackfillDeps + runBackfill).
 *
 * Each run happens in its own child process so its peak RSS is its own; the stand-ins live in
 * this (parent) process, so their data does not count against the backfill. Jobs go to a
 * COUNTING sink, not to SQS: moto slows down badly as a queue fills (quadratically; 200 messages
 * take seconds), which would measure moto, not us. The enqueue path itself is covered by the
 * integration tests.
 *
 * Prints a table: records/s, pages, requests/s (mean and the busiest 1 s window) per API, and
 * peak RSS, plus the growth of peak RSS from the smallest to the largest size (target < 30 MB).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createSecretCache } from '../../lib/aws/secrets.js';
import { createBackfillDeps } from '../../lib/backfill/create-backfill.js';
import { runBackfill } from '../../lib/backfill/run-backfill.js';
import { loadConfig } from '../../lib/config.js';
import { parseMappingConfig } from '../../lib/sources/mapping-config.js';
import { localAwsEnv, startMoto } from '../local/moto.js';
import { provisionStack } from '../provision.js';
import type { LoggedRequest } from '../standins/common.js';
import { startShopifyApiStandin } from '../standins/shopify-api.js';
import { startTypeformApiStandin } from '../standins/typeform-api.js';
import { type BenchRow, writeBenchJson } from './report.js';

const FORM = 'benchForm1';
const SHOP = 'bench-shop.myshopify.com';
// Shopify stand-in plan for the benchmark: a Plus-sized bucket (20,000 points, 1,000 restored a
// second) and 1 point per node, so 100k customers take minutes, not hours. At the Standard plan
// (100 points/s) and ~5 points a node the same pacing code simply waits longer.
const SHOPIFY_PLAN = { maximumAvailable: 20_000, restoreRate: 1_000, nodeCost: 1 } as const;

interface ChildResult {
  readonly source: string;
  readonly size: number;
  readonly recordsSeen: number;
  readonly jobsMapped: number;
  readonly pages: number;
  readonly elapsedMs: number;
  readonly peakRssMb: number;
  readonly done: boolean;
}

/** Runs in the child: one backfill, real timers, counting sink; prints one JSON line. */
async function child(source: 'typeform' | 'shopify', size: number): Promise<void> {
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const config = loadConfig(process.env, ['PATCH_QUEUE_URL', 'STATE_TABLE_NAME']);
  let counted = 0;
  const deps = createBackfillDeps(
    config,
    {
      sqs: new SQSClient({}),
      dynamodb: DynamoDBDocumentClient.from(new DynamoDBClient({})),
      secrets: createSecretCache({ client: new SecretsManagerClient({}) }),
    },
    {
      mapping: parseMappingConfig({}, 'bench'),
      enqueue: async (jobs) => {
        counted += jobs.length;
      },
    },
  );
  const started = performance.now();
  const request =
    source === 'typeform' ? { source, formIds: [FORM], dryRun: false } : { source, dryRun: false };
  const summary = await runBackfill({ kind: 'request', request }, deps, {
    deadlineAt: Number.POSITIVE_INFINITY,
  });
  const elapsedMs = performance.now() - started;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1_024);
  const scope = summary.sources[0];
  if (scope?.error) throw new Error(`${source} ${size}: ${scope.error.code}: ${scope.error.message}`);
  const result: ChildResult = {
    source,
    size,
    recordsSeen: scope?.recordsSeen ?? 0,
    jobsMapped: counted,
    pages: scope?.pagesRead ?? 0,
    elapsedMs,
    peakRssMb: peakRss / 1_048_576,
    done: summary.done,
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

function runChild(
  source: string,
  size: number,
  env: Record<string, string>,
  heapMb: number,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(import.meta.url);
    const heap = heapMb > 0 ? [`--max-old-space-size=${heapMb}`] : [];
    const proc = spawn(
      process.execPath,
      [...heap, '--import', 'tsx', script, '--child', '--source', source, '--size', String(size)],
      {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    proc.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    proc.on('error', reject);
    proc.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line)
        reject(new Error(`child ${source} ${size} exited ${code}: ${out.slice(-500)}`));
      else resolve(JSON.parse(line.slice('RESULT '.length)) as ChildResult);
    });
  });
}

/** Mean requests/s over the run and the most requests that started within any 1 s window. */
function requestRates(requests: readonly LoggedRequest[]): {
  mean: number;
  busiestSecond: number;
  count: number;
} {
  const times = requests.map((r) => r.at).sort((a, b) => a - b);
  let busiest = 0;
  let start = 0;
  for (let end = 0; end < times.length; end++) {
    while ((times[end] ?? 0) - (times[start] ?? 0) >= 1_000) start++;
    busiest = Math.max(busiest, end - start + 1);
  }
  const span = times.length > 1 ? ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1_000 : 0;
  return { mean: span > 0 ? (times.length - 1) / span : 0, busiestSecond: busiest, count: times.length };
}

async function parent(sizes: number[], sources: string[], heapMb: number, jsonFile?: string): Promise<void> {
  const moto = await startMoto();
  Object.assign(process.env, localAwsEnv(moto.endpoint));
  const secrets = new SecretsManagerClient({});
  const rows: (ChildResult & { mean: number; busiest: number; requests: number; throttled: number })[] = [];
  try {
    for (const source of sources) {
      for (const size of sizes) {
        const stack = await provisionStack({ prefix: `bench-${source}-${size}-${Date.now() % 100_000}` });
        const secretId = `bench/${source}/${size}/${Date.now()}`;
        const token = `bench-${source}-token`;
        await secrets.send(new CreateSecretCommand({ Name: secretId, SecretString: token }));
        const env: Record<string, string> = { ...localAwsEnv(moto.endpoint), ...stack };
        let requests: LoggedRequest[];
        let stop: () => Promise<void>;
        if (source === 'typeform') {
          const standin = await startTypeformApiStandin({
            token,
            forms: { [FORM]: { count: size } },
            spacingMs: 1_000,
            rateLimitPerSecond: 2,
          });
          Object.assign(env, { TYPEFORM_API_TOKEN_SECRET_ID: secretId, TYPEFORM_API_BASE_URL: standin.url });
          requests = standin.requests;
          stop = standin.stop;
        } else {
          const standin = await startShopifyApiStandin({
            token,
            shop: SHOP,
            customers: size,
            spacingMs: 1_000,
            ...SHOPIFY_PLAN,
          });
          Object.assign(env, {
            SHOPIFY_SHOP_DOMAIN: SHOP,
            SHOPIFY_ADMIN_BASE_URL: standin.url,
            SHOPIFY_ADMIN_TOKEN_SECRET_ID: secretId,
          });
          requests = standin.requests;
          stop = standin.stop;
        }
        process.stderr.write(`bench: ${source} ${size.toLocaleString('en-US')} records…\n`);
        try {
          const result = await runChild(source, size, env, heapMb);
          const rates = requestRates(requests);
          const throttled = requests.filter(
            (r) => r.outcome === 'rate-limited' || r.outcome === 'throttled',
          ).length;
          rows.push({
            ...result,
            mean: rates.mean,
            busiest: rates.busiestSecond,
            requests: rates.count,
            throttled,
          });
        } finally {
          await stop();
        }
      }
    }
  } finally {
    await moto.stop();
  }
  const header = [
    'source',
    'records',
    'pages',
    'seconds',
    'records/s',
    'requests',
    'req/s mean',
    'req/s max 1s',
    'throttled',
    'peak RSS MB',
  ];
  const table = rows.map((r) => [
    r.source,
    r.recordsSeen.toLocaleString('en-US'),
    String(r.pages),
    (r.elapsedMs / 1_000).toFixed(1),
    Math.round(r.recordsSeen / (r.elapsedMs / 1_000)).toLocaleString('en-US'),
    String(r.requests),
    r.mean.toFixed(2),
    String(r.busiest),
    String(r.throttled),
    r.peakRssMb.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)];
  // `--json`: the figures for npm run bench's summary.
  const benchRows: BenchRow[] = [];
  for (const source of sources) {
    const mine = rows.filter((r) => r.source === source).sort((a, b) => a.size - b.size);
    const small = mine[0];
    const large = mine.at(-1);
    if (large) {
      const rate = (r: ChildResult) => r.recordsSeen / (r.elapsedMs / 1_000);
      benchRows.push({
        figure: `${source}: records/s at ${large.size.toLocaleString('en-US')} records`,
        value: rate(large),
        unit: 'records/s',
        ...(small && small !== large
          ? {
              baseline: `${rate(small).toFixed(0)} records/s at ${small.size.toLocaleString('en-US')}`,
              ratio: rate(large) / rate(small),
            }
          : {}),
        target: 'reported (paced by the API limits)',
      });
      if (source === 'typeform') {
        benchRows.push({
          figure: 'typeform: busiest 1 s of Responses API requests',
          value: Math.max(...mine.map((r) => r.busiest)),
          unit: 'req/s',
          target: '<= 2 req/s (Typeform limit)',
          met: mine.every((r) => r.busiest <= 2),
        });
      }
    }
    if (small && large && small !== large) {
      benchRows.push({
        figure: `${source}: peak RSS growth ${small.size.toLocaleString('en-US')} -> ${large.size.toLocaleString('en-US')} records`,
        value: large.peakRssMb - small.peakRssMb,
        unit: 'MB',
        baseline: `peak RSS ${small.peakRssMb.toFixed(1)} MB at ${small.size.toLocaleString('en-US')}`,
        target: '< 30 MB',
        met: large.peakRssMb - small.peakRssMb < 30,
      });
      const growth = large.peakRssMb - small.peakRssMb;
      out.push(
        `${source}: peak RSS ${small.size.toLocaleString('en-US')} → ${large.size.toLocaleString('en-US')} records: ` +
          `${growth >= 0 ? '+' : ''}${growth.toFixed(1)} MB (target < 30 MB: ${growth < 30 ? 'met' : 'MISSED'}); ` +
          `records/s ratio ${(large.recordsSeen / large.elapsedMs / (small.recordsSeen / small.elapsedMs)).toFixed(2)}×`,
      );
    }
  }
  out.push(
    'Typeform limit: 2 requests/s per account (the stand-in answers 429 beyond it). ' +
      `Shopify stand-in: bucket ${SHOPIFY_PLAN.maximumAvailable} points, ${SHOPIFY_PLAN.restoreRate} restored/s, ${SHOPIFY_PLAN.nodeCost} point/node. ` +
      'Jobs counted, not sent to SQS; checkpoints written to moto DynamoDB. ' +
      (heapMb > 0
        ? `Children ran with --max-old-space-size=${heapMb} (both sizes alike).`
        : 'Children ran with V8 default heap limits (uncapped).'),
  );
  process.stdout.write(`${out.join('\n')}\n`);
  writeBenchJson(jsonFile, { benchmark: 'backfill', rows: benchRows, settings: { sizes, sources, heapMb } });
}

const { values } = parseArgs({
  options: {
    child: { type: 'boolean', default: false },
    source: { type: 'string' },
    size: { type: 'string' },
    sizes: { type: 'string', default: '1000,100000' },
    sources: { type: 'string', default: 'typeform,shopify' },
    // V8 grows the old generation lazily: with headroom it keeps several pages of garbage before a
    // major GC, which is heap sizing, not retention. A fixed cap (as any container has) measures
    // what the backfill keeps alive; --heap-mb 0 runs uncapped to show the difference.
    'heap-mb': { type: 'string', default: '128' },
    json: { type: 'string' },
  },
});
const main = values.child
  ? child(values.source === 'shopify' ? 'shopify' : 'typeform', Number(values.size))
  : parent(
      values.sizes.split(',').map(Number),
      values.sources.split(','),
      Number(values['heap-mb']),
      values.json,
    );
main.catch((error: unknown) => {
  process.stderr.write(`bench:backfill failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
