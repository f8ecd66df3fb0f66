/**
 * `npm run bench:cold-start [-- --runs 15] [--json <file>]` (issue 6 §5): per function, the bundle size (zip and
 * unzipped .js, from `serverless package`) and the module-load time of the bundle in a fresh
 * `node` process, side by side with a reference bundle that only loads and constructs the AWS SDK
 * clients that function uses, built with the same esbuild options (serverless.yml
 * custom.esbuild). Runs alternate bundle/reference so machine noise hits both alike; medians.
 * Targets: bundle <= 400 KB minified; load time <= 1.3x the reference. Also printed, to read one
 * run on a shared machine: the load average and, per function, the per-run spread.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { deployedBuildOptions } from '../build/esbuild-options.js';
import { ensurePackaged, listZipEntries, PROJECT_ROOT } from '../build/package.js';
import { loadServerlessFunctions } from '../local/http-api.js';
import { median, writeBenchJson } from './report.js';

const TARGET_BYTES = 400 * 1024;
const TARGET_RATIO = 1.3;

/** How the reference constructs each SDK package the bundle requires (as the handlers do at cold start). */
const SDK_CONSTRUCTORS: Record<string, string> = {
  '@aws-sdk/client-sqs': "new (require('@aws-sdk/client-sqs').SQSClient)({});",
  '@aws-sdk/client-dynamodb': "new (require('@aws-sdk/client-dynamodb').DynamoDBClient)({});",
  '@aws-sdk/client-secrets-manager':
    "new (require('@aws-sdk/client-secrets-manager').SecretsManagerClient)({});",
  '@aws-sdk/lib-dynamodb':
    "require('@aws-sdk/lib-dynamodb').DynamoDBDocumentClient.from(new (require('@aws-sdk/client-dynamodb').DynamoDBClient)({}));",
};

// The functions read their configuration at import; give them a complete, harmless one.
const BENCH_ENV: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'bench',
  AWS_SECRET_ACCESS_KEY: 'bench',
  PATCH_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench-patches.fifo',
  DEAD_LETTER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/bench-patches-dlq.fifo',
  STATE_TABLE_NAME: 'bench-state',
  CLEARTALK_API_KEY_SECRET_ID: 'bench/cleartalk-api-key',
  TYPEFORM_WEBHOOK_SECRET_ID: 'bench/typeform-webhook-secret',
  SHOPIFY_WEBHOOK_SECRET_ID: 'bench/shopify-webhook-secret',
  TYPEFORM_API_TOKEN_SECRET_ID: 'bench/typeform-api-token',
  SHOPIFY_ADMIN_TOKEN_SECRET_ID: 'bench/shopify-admin-token',
  MAX_RECEIVE_COUNT: '5',
  POWERTOOLS_LOG_LEVEL: 'ERROR',
};

/** The p-quantile (0..1) of `values`, nearest rank. */
function quantile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(p * (sorted.length - 1))))] as number;
}

/** Milliseconds to require() the file in a fresh node process (the runtime's view of init). */
function measureLoad(file: string): Load {
  // CPU time (user + system) of the require: on a shared machine, wall time mostly measures the
  // neighbours; the CPU a load costs is what a Lambda init spends. Wall time is kept alongside.
  const script =
    'const c0 = process.cpuUsage(); const t0 = performance.now(); require(process.argv[1]); ' +
    'const t1 = performance.now(); const c = process.cpuUsage(c0); ' +
    'process.stdout.write(JSON.stringify({ cpu: (c.user + c.system) / 1000, wall: t1 - t0 }));';
  const out = spawnSync(process.execPath, ['-e', script, file], {
    env: {
      ...BENCH_ENV,
      PATH: process.env.PATH ?? '',
      // Lambda resolves the runtime's SDK through NODE_PATH; here it is the project's copy.
      NODE_PATH: join(PROJECT_ROOT, 'node_modules'),
    },
    encoding: 'utf8',
  });
  if (out.status !== 0) throw new Error(`loading ${file} failed:\n${out.stderr}`);
  return JSON.parse(out.stdout) as Load;
}

function heaviestModules(metafile: Metafile, top = 4): string {
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint);
  const byPackage = new Map<string, number>();
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const name = match?.[1] ?? `(ours) ${path.split('/').slice(0, 2).join('/')}`;
    byPackage.set(name, (byPackage.get(name) ?? 0) + input.bytesInOutput);
  }
  return [...byPackage.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)} KB`)
    .join(', ');
}

type Load = { cpu: number; wall: number };
type Samples = { bundle: Load[]; ref: Load[] };

interface Row {
  name: string;
  zipBytes: number;
  jsBytes: number;
  refBytes: number;
  sdk: string[];
  /** Median CPU ms of the require. */
  loadMs: number;
  refMs: number;
  loadWallMs: number;
  refWallMs: number;
  /**
   * Spread, for reading a single run: bundle and reference of run i are loaded one right after
   * the other, so their difference and ratio cancel most of what the neighbours do to both.
   */
  extraMs: number;
  pairRatioQ1: number;
  pairRatioQ3: number;
  heavy: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '15' }, json: { type: 'string' } },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');

  const { dir: packageDir, reused } = await ensurePackaged({
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const functions = loadServerlessFunctions(join(PROJECT_ROOT, 'serverless.yml'));
  const options = deployedBuildOptions();
  const work = mkdtempSync(join(tmpdir(), 'cold-start-'));
  try {
    const prepared = [];
    for (const fn of functions) {
      const zip = readFileSync(join(packageDir, `${fn.name}.zip`));
      const jsName = fn.modulePath.replace(/\.ts$/, '.cjs');
      const jsEntry = listZipEntries(zip).find((e) => e.name === jsName);
      if (!jsEntry) throw new Error(`${fn.name}.zip has no ${jsName}`);
      // The same build as the zip's, in a directory without package.json (CommonJS, as in Lambda).
      const bundleFile = join(work, fn.name, 'bundle.js');
      const built = await build({
        ...options,
        entryPoints: [join(PROJECT_ROOT, fn.modulePath)],
        outfile: bundleFile,
      });
      const code = readFileSync(bundleFile, 'utf8');
      // Only what the bundle actually require()s: package names can also appear in bundled data.
      const sdk = [
        ...new Set([...code.matchAll(/require\("(@aws-sdk\/[a-z0-9-]+)"\)/g)].map((m) => m[1] as string)),
      ].sort();
      const unknown = sdk.filter((pkg) => !SDK_CONSTRUCTORS[pkg]);
      if (unknown.length > 0) throw new Error(`add ${unknown.join(', ')} to SDK_CONSTRUCTORS`);
      const refEntry = join(work, fn.name, 'reference-entry.js');
      writeFileSync(
        refEntry,
        `${sdk.map((pkg) => SDK_CONSTRUCTORS[pkg]).join('\n')}\nexports.handler = async () => {};\n`,
      );
      const refFile = join(work, fn.name, 'reference.js');
      await build({ ...options, metafile: false, entryPoints: [refEntry], outfile: refFile });
      // Only the sourceMappingURL comment (file name) may differ from the zip's build.
      if (Math.abs(Buffer.byteLength(code) - jsEntry.size) > 64) {
        process.stderr.write(
          `note: ${fn.name}: esbuild here gives ${Buffer.byteLength(code)} B, the zip holds ${jsEntry.size} B\n`,
        );
      }
      prepared.push({
        fn,
        bundleFile,
        refFile,
        sdk,
        zipBytes: zip.length,
        jsBytes: jsEntry.size,
        refBytes: readFileSync(refFile).length,
        heavy: heaviestModules(built.metafile as Metafile),
      });
    }
    const loadBefore = loadavg()[0] ?? 0;
    // Warm the file-system cache once, then alternate bundle and reference.
    for (const p of prepared) {
      measureLoad(p.bundleFile);
      measureLoad(p.refFile);
    }
    const samples = new Map<string, Samples>(prepared.map((p) => [p.fn.name, { bundle: [], ref: [] }]));
    for (let i = 0; i < runs; i++) {
      for (const p of prepared) {
        const s = samples.get(p.fn.name) as Samples;
        if (i % 2 === 0) {
          s.bundle.push(measureLoad(p.bundleFile));
          s.ref.push(measureLoad(p.refFile));
        } else {
          s.ref.push(measureLoad(p.refFile));
          s.bundle.push(measureLoad(p.bundleFile));
        }
      }
    }
    const rows: Row[] = prepared.map((p) => {
      const s = samples.get(p.fn.name) as Samples;
      const pairRatios = s.bundle.map((b, i) => b.cpu / (s.ref[i] as Load).cpu);
      return {
        name: p.fn.name,
        zipBytes: p.zipBytes,
        jsBytes: p.jsBytes,
        refBytes: p.refBytes,
        sdk: p.sdk,
        loadMs: median(s.bundle.map((x) => x.cpu)),
        refMs: median(s.ref.map((x) => x.cpu)),
        loadWallMs: median(s.bundle.map((x) => x.wall)),
        refWallMs: median(s.ref.map((x) => x.wall)),
        extraMs: median(s.bundle.map((b, i) => b.cpu - (s.ref[i] as Load).cpu)),
        pairRatioQ1: quantile(pairRatios, 0.25),
        pairRatioQ3: quantile(pairRatios, 0.75),
        heavy: p.heavy,
      };
    });
    printReport(rows, runs, reused, [loadBefore, loadavg()[0] ?? 0]);
    // `--json`: the figures for npm run bench's summary.
    writeBenchJson(values.json, {
      benchmark: 'cold-start',
      settings: { runs },
      rows: rows.flatMap((row) => [
        {
          figure: `${row.name}: bundle size (.js, minified)`,
          value: row.jsBytes / 1024,
          unit: 'KB',
          target: '<= 400 KB',
          met: row.jsBytes <= TARGET_BYTES,
        },
        {
          figure: `${row.name}: module load CPU (median of ${runs})`,
          value: row.loadMs,
          unit: 'ms',
          baseline: `reference bundle (SDK clients only) ${row.refMs.toFixed(1)} ms`,
          ratio: row.loadMs / row.refMs,
          target: '<= 1.3x reference',
          met: row.loadMs / row.refMs <= TARGET_RATIO,
        },
      ]),
    });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function printReport(rows: Row[], runs: number, reused: boolean, load: [number, number]): void {
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const lines = [
    `cold start: module load (require) in a fresh node ${process.version} process; CPU ms (user+system), median of ${runs} runs, bundle and reference alternated; wall ms in brackets`,
    `(package ${reused ? 'reused from a fresh .serverless/' : 'built now'}; AWS SDK v3 external, loaded from node_modules via NODE_PATH as Lambda loads the runtime's copy)`,
    '',
    '| function | zip | .js (minified) | reference .js | SDK packages | load CPU ms [wall] | reference CPU ms [wall] | ratio | size <= 400 KB | ratio <= 1.3 |',
    '|---|---:|---:|---:|---|---:|---:|---:|:-:|:-:|',
    ...rows.map((row) => {
      const ratio = row.loadMs / row.refMs;
      return `| ${row.name} | ${kb(row.zipBytes)} | ${kb(row.jsBytes)} | ${kb(row.refBytes)} | ${row.sdk.map((s) => s.replace('@aws-sdk/', '')).join(', ')} | ${row.loadMs.toFixed(1)} [${row.loadWallMs.toFixed(0)}] | ${row.refMs.toFixed(1)} [${row.refWallMs.toFixed(0)}] | ${ratio.toFixed(2)}x | ${row.jsBytes <= TARGET_BYTES ? 'yes' : 'NO'} | ${ratio <= TARGET_RATIO ? 'yes' : 'NO'} |`;
    }),
    '',
    `machine: ${cpus().length} CPUs, 1-minute load average ${load[0].toFixed(1)} before the runs, ${load[1].toFixed(1)} after (CPU times grow with the load; compare runs made under similar load)`,
    'spread (bundle and reference of each run are loaded back to back): extra CPU ms = median of (bundle - reference) per run; per-run ratio, 1st-3rd quartile:',
    ...rows.map(
      (row) =>
        `  ${row.name}: extra ${row.extraMs.toFixed(1)} ms; per-run ratio ${row.pairRatioQ1.toFixed(2)}-${row.pairRatioQ3.toFixed(2)}x`,
    ),
    '',
    'heaviest packages per bundle (esbuild metafile, bytes in the minified output):',
    ...rows.map((row) => `  ${row.name}: ${row.heavy}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
