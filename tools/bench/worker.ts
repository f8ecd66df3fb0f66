/**
 * `npm run bench:worker` (issue 4 §8): PatchJobs through the worker's apply path
 * (`applyPatchJob`: validate, ledger, versions, plan, PATCH through the ClearTalk client, record)
 * against a raw keep-alive node:http PATCH loop sending the same requests (and, to split the gap,
 * the ClearTalk client alone), at the same
 * concurrency, to the same ClearTalk sandbox (a child process), in one run. The two sides take
 * turns round by round so drift on a shared machine hits both alike.
 *
 *   1. in-memory state and link stores (target: >= 0.85 of raw);
 *   2. DynamoDB state and link stores on moto (reported; moto is a Python emulator, so fewer jobs);
 *   3. peak RSS of a fresh Node process running the esbuild bundle of handlers/apply-patches.ts
 *      on one 10-record batch against moto and the sandbox (target < 128 MB).
 *
 *   Then the apply layer alone (a ClearTalk stand-in that answers at once, no HTTP): its CPU per
 *   job beside what it adds to the sender inside the comparison, which shows how much of the gap
 *   is the layer's own work and how much the machine adds when it shares caches with HTTP.
 *   A second in-memory comparison runs at the worker's own concurrency (WORKER_CONCURRENCY's
 *   default, 8 jobs in flight per invocation): reported beside the target, not in place of it.
 *
 * Options: --jobs 10000 --concurrency 16 --rounds 4 --warmup 2000 --dynamo-jobs 1000 --skip-dynamo --skip-memory
 *          --skip-worker-concurrency
 *          --spin <µs> (calibration: one more comparison whose third side is the client plus a busy-wait
 *                       of that many µs per job in place of the apply layer: pure CPU of a known size)
 *          --json <file> (the figures for npm run bench)
 * Jobs carry no customField: a customField job adds a GET (the merge), which the raw loop would not make.
 *
 * Reading the figures: the raw loop is plain `node:http`, the baseline since the first session. The
 * client and so the apply path use the client's own HTTP/1.1 transport (lib/cleartalk/http1.ts),
 * which costs far less CPU per request than `node:http`; with it the sandbox, not the sender, is
 * the busier process, as a real API would be. apply/client isolates what the apply layer costs,
 * and the CPU line shows each side's sender CPU per job beside the sandbox's.
 * Each round's inputs are made before its clock starts (see {@link Runner}): the SQS message bodies
 * for the apply path, the contact ids, keys and patch objects for the raw loop and the client.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { build } from 'esbuild';
import { createCreationClaims } from '../../lib/aws/creation-claims.js';
import { createLinkStore, createMemoryLinkStore } from '../../lib/aws/links.js';
import { createMemoryStateStore, createStateStore, type StateStore } from '../../lib/aws/state-store.js';
import { createClearTalkClient } from '../../lib/cleartalk/client.js';
import { loadConfig } from '../../lib/config.js';
import { type ApplyDeps, applyPatchJob } from '../../lib/jobs/apply.js';
import { createKeyedLock } from '../../lib/jobs/keyed-lock.js';
import { buildContact } from '../../test/helpers/contact.js';
import { localAwsEnv, startMoto } from '../local/moto.js';
import { provisionStack } from '../provision.js';
import {
  BENCH_USER_AGENT,
  createRawPatchSender,
  processCpuMs,
  runPool,
  type SandboxTarget,
  seedSandbox,
  startSandboxProcess as startSandboxChild,
} from './raw-patch.js';
import { type BenchRow, median, writeBenchJson } from './report.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '2000' },
    'dynamo-jobs': { type: 'string', default: '1000' },
    'skip-dynamo': { type: 'boolean', default: false },
    'skip-memory': { type: 'boolean', default: false },
    'skip-worker-concurrency': { type: 'boolean', default: false },
    spin: { type: 'string' },
    json: { type: 'string' },
  },
});
const JOBS = Number(args.jobs);
const CONCURRENCY = Number(args.concurrency);
// What the deployed worker runs per invocation unless configured otherwise.
const WORKER_CONCURRENCY = loadConfig({}).WORKER_CONCURRENCY;
const ROUNDS = Number(args.rounds);
// Jobs per side before the clock. With 300, the first timed side (raw, in round 0) was still
// warming up: round 0's apply/raw came out 1.07-1.34 in every run while the other rounds gave
// 0.57-0.76, which lifted the total ratio. 2,000 per side brings round 0 in line with the rest.
const WARMUP = Number(args.warmup);
const DYNAMO_JOBS = Number(args['dynamo-jobs']);
const API_KEY = 'bench-worker-key';
const CONTACTS = 1_000;
const USER_AGENT = BENCH_USER_AGENT;

/** The sandbox in its own process, as a real API would be, seeded with the contacts. */
async function startSandboxProcess(): Promise<SandboxTarget> {
  const target = await startSandboxChild(API_KEY);
  await seedSandbox(
    target.url,
    Array.from({ length: CONTACTS }, (_, i) => ({ id: i + 1 })),
  );
  return target;
}

/** The same change for both sides: contact, idempotency key, a value that differs every time. */
function change(side: string, round: number, index: number, run: string) {
  return {
    contactId: String((index % CONTACTS) + 1),
    jobId: `bench:${run}:${side}:${round}:${index}`,
    patch: { firstName: `F${round}-${index}`, tag: `t${index % 7}` },
    // Later for every later job of a contact, so no field is stale.
    occurredAt: new Date(Date.UTC(2026, 0, 1) + round * 1_000_000_000 + index * 1_000).toISOString(),
  };
}

/**
 * Prepares a side's inputs for one round (outside the clock) and returns the timed part. Each side
 * gets its input ready-made, as it would arrive: the worker gets the SQS message body as a string,
 * the raw loop and the client get the contact id, key and patch object (making the request body
 * from it is theirs to do, inside the clock).
 */
type Runner = (round: number, count: number) => () => Promise<void>;

const changes = (side: string, round: number, count: number, run: string) =>
  Array.from({ length: count }, (_, index) => change(side, round, index, run));

function createRawRunner(url: string, run: string, concurrency = CONCURRENCY): Runner {
  const send = createRawPatchSender({
    url,
    apiKey: API_KEY,
    concurrency,
    userAgent: USER_AGENT,
  });
  return (round, count) => {
    const inputs = changes('raw', round, count, run);
    return () =>
      runPool(count, concurrency, async (index) => {
        const { contactId, jobId, patch } = inputs[index] as ReturnType<typeof change>;
        await send(`/contacts/${contactId}`, jobId, JSON.stringify(patch));
      });
  };
}

/** The ClearTalk client on the sandbox, as every side but the raw loop uses it. */
function createBenchClient(url: string) {
  return createClearTalkClient({ baseUrl: url, getApiKey: async () => API_KEY, userAgent: USER_AGENT });
}

/** The apply path through `clearTalk`: the real client on the sandbox, or a stand-in (the layer alone). */
function createApplyRunner(
  clearTalk: ApplyDeps['clearTalk'],
  stores: { state: StateStore; links: ApplyDeps['links'] },
  run: string,
  concurrency = CONCURRENCY,
): Runner {
  return (round, count) => {
    const bodies = changes('apply', round, count, run).map((c) =>
      JSON.stringify({ version: 1, source: 'bench', ...c }),
    );
    const deps = {
      clearTalk,
      ...stores,
      policy: () => ({ createIfUnresolved: false }),
      deadlineMs: Date.now() + 3_600_000,
      lock: createKeyedLock(),
    };
    return () =>
      runPool(count, concurrency, async (index) => {
        const outcome = await applyPatchJob(bodies[index] as string, deps);
        if (outcome.kind !== 'applied') throw new Error(`apply: ${outcome.kind} ${JSON.stringify(outcome)}`);
      });
  };
}

/**
 * The ClearTalk client alone (helper A's layer), to show which part of the gap is ours. With
 * `spinMicros` (calibration, `--spin`), a busy-wait of that many µs per job before the request,
 * as the apply layer's own work mostly is: what pure CPU of a known size costs inside the
 * comparison, to set beside what the apply layer adds there.
 */
function createClientRunner(url: string, run: string, concurrency = CONCURRENCY, spinMicros = 0): Runner {
  const clearTalk = createBenchClient(url);
  return (round, count) => {
    const inputs = changes(spinMicros > 0 ? 'spin' : 'client', round, count, run);
    return () =>
      runPool(count, concurrency, async (index) => {
        const { contactId, jobId, patch } = inputs[index] as ReturnType<typeof change>;
        const until = performance.now() + spinMicros / 1000;
        while (performance.now() < until) {
          // busy-wait: CPU of a known size, no memory touched
        }
        await clearTalk.updateContact(contactId, patch, { idempotencyKey: jobId });
      });
  };
}

type Side = 'raw' | 'client' | 'apply';

interface Comparison {
  label: string;
  jobs: number;
  concurrency: number;
  perSecond: Record<Side, number>;
  /**
   * CPU µs per job of this process (the sender: total, and its user-space part) and of the
   * sandbox child, per side.
   */
  cpuPerJob: Record<Side, { sender: number; senderUser: number; sandbox: number | undefined }>;
  /** apply/raw of each round on its own (the spread shows how much the machine moved). */
  roundRatios: number[];
}

// Set once the sandbox runs: its process id, for its CPU time per side.
let sandboxPid: number | undefined;

async function compare(
  label: string,
  jobs: number,
  runners: Record<Side, Runner>,
  concurrency = CONCURRENCY,
): Promise<Comparison> {
  const sides: Side[] = ['raw', 'client', 'apply'];
  for (const side of sides) await runners[side](-1, Math.min(WARMUP, jobs))();
  const perRound = Math.ceil(jobs / ROUNDS);
  const ms: Record<Side, number> = { raw: 0, client: 0, apply: 0 };
  const senderCpu: Record<Side, number> = { raw: 0, client: 0, apply: 0 };
  const senderUserCpu: Record<Side, number> = { raw: 0, client: 0, apply: 0 };
  const sandboxCpu: Record<Side, number | undefined> = { raw: 0, client: 0, apply: 0 };
  const sandboxMs = () => (sandboxPid === undefined ? undefined : processCpuMs(sandboxPid));
  const roundRatios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const roundMs: Record<Side, number> = { raw: 0, client: 0, apply: 0 };
    // Rotate who goes first, so load drift on a shared machine hits every side alike.
    const order = sides.map((_, i) => sides[(i + round) % sides.length] as Side);
    for (const side of order) {
      const timed = runners[side](round, perRound);
      const cpu = process.cpuUsage();
      const sandboxBefore = sandboxMs();
      const started = performance.now();
      await timed();
      roundMs[side] = performance.now() - started;
      ms[side] += roundMs[side];
      const used = process.cpuUsage(cpu);
      senderCpu[side] += (used.user + used.system) / 1000;
      senderUserCpu[side] += used.user / 1000;
      const sandboxAfter = sandboxMs();
      sandboxCpu[side] =
        sandboxBefore === undefined || sandboxAfter === undefined || sandboxCpu[side] === undefined
          ? undefined
          : sandboxCpu[side] + sandboxAfter - sandboxBefore;
    }
    roundRatios.push(roundMs.raw / roundMs.apply);
  }
  const total = perRound * ROUNDS;
  const rate = (side: Side) => (total / ms[side]) * 1000;
  const cpu = (side: Side) => {
    const sandbox = sandboxCpu[side];
    return {
      sender: (senderCpu[side] / total) * 1000,
      senderUser: (senderUserCpu[side] / total) * 1000,
      sandbox: sandbox === undefined ? undefined : (sandbox / total) * 1000,
    };
  };
  return {
    label,
    jobs: total,
    concurrency,
    perSecond: { raw: rate('raw'), client: rate('client'), apply: rate('apply') },
    cpuPerJob: { raw: cpu('raw'), client: cpu('client'), apply: cpu('apply') },
    roundRatios,
  };
}

function print(c: Comparison, target: string): void {
  const { raw, client, apply } = c.perSecond;
  process.stdout.write(
    `${c.label.padEnd(18)} jobs ${String(c.jobs).padStart(6)}  concurrency ${String(c.concurrency).padStart(2)}  raw ${raw.toFixed(0).padStart(5)}/s  ` +
      `client ${client.toFixed(0).padStart(5)}/s  apply ${apply.toFixed(0).padStart(5)}/s  ` +
      `apply/raw ${(apply / raw).toFixed(3)} (${target})  apply/client ${(apply / client).toFixed(3)}\n`,
  );
  // Where the time goes: with a core each, the wall time per job follows the busier process
  // (here the sender); when the two share one core (another process busy on the machine), it
  // follows the sum of both. The ratio of the sides differs a lot between the two cases.
  // The sender's user-space part is where the apply layer's own work shows; its kernel part
  // (one read and one writev per job on every side, loopback delivery) stays about the same.
  const per = (side: Side) => {
    const { sender, senderUser, sandbox } = c.cpuPerJob[side];
    const wall = 1e6 / c.perSecond[side];
    return `${side} ${sender.toFixed(0)} (user ${senderUser.toFixed(0)})${sandbox === undefined ? '' : ` + ${sandbox.toFixed(0)}`} (wall ${wall.toFixed(0)})`;
  };
  process.stdout.write(
    `${''.padEnd(18)} apply/raw by round (${c.jobs / c.roundRatios.length} jobs each): ${c.roundRatios.map((r) => r.toFixed(3)).join(' ')}\n`,
  );
  process.stdout.write(
    `${''.padEnd(18)} CPU µs per job, sender (its user-space part)${sandboxPid === undefined ? '' : ' + sandbox'}: ${per('raw')}, ${per('client')}, ${per('apply')}\n`,
  );
}

/**
 * The apply layer alone: the same jobs through `applyPatchJob` at the same concurrency, with a
 * ClearTalk stand-in that answers at once (no HTTP, no sandbox). CPU µs per job of this process,
 * median over rounds: what the layer costs by itself, beside what it adds to the sender's CPU per
 * job inside the comparison (apply minus client), where it shares caches with the HTTP stack and
 * the sandbox.
 */
async function measureLayerAlone(jobs: number, run: string): Promise<number> {
  const answer = buildContact();
  const clearTalk: ApplyDeps['clearTalk'] = {
    updateContact: async () => answer,
    getContact: async () => answer,
    createContact: async () => answer,
  };
  const runner = createApplyRunner(
    clearTalk,
    { state: createMemoryStateStore(), links: createMemoryLinkStore() },
    `${run}a`,
  );
  const perRound = Math.ceil(jobs / ROUNDS);
  const timedRound = (round: number, count: number) => {
    const timed = runner(round, count);
    return async () => {
      const cpu = process.cpuUsage();
      await timed();
      const used = process.cpuUsage(cpu);
      return (used.user + used.system) / count;
    };
  };
  await timedRound(-1, Math.min(WARMUP, jobs))();
  const perJob: number[] = [];
  for (let round = 0; round < ROUNDS; round++) perJob.push(await timedRound(round, perRound)());
  return median(perJob);
}

/** Bundles the handler like serverless-esbuild and runs one 10-record batch in a fresh process. */
async function measureHandlerMemory(sandboxUrl: string, awsEnv: Record<string, string>): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-worker-'));
  try {
    await build({
      entryPoints: ['handlers/apply-patches.ts'],
      outfile: join(dir, 'apply-patches.mjs'),
      bundle: true,
      minify: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      logLevel: 'error',
      // CommonJS dependencies inside an ESM bundle need `require`.
      banner: {
        js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
      },
    });
    const prefix = `bm-${randomUUID().slice(0, 8)}`;
    const stack = await provisionStack({ prefix });
    const secretId = `bench/${prefix}`;
    await new SecretsManagerClient({}).send(
      new CreateSecretCommand({ Name: secretId, SecretString: API_KEY }),
    );
    const records = Array.from({ length: 10 }, (_, i) => {
      const c = change('memory', 0, i, prefix);
      return {
        messageId: randomUUID(),
        receiptHandle: 'r',
        body: JSON.stringify({
          version: 1,
          source: 'bench',
          ...c,
          patch: { ...c.patch, customField: { n: i } },
        }),
        attributes: { ApproximateReceiveCount: '1', MessageGroupId: c.contactId },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:bench.fifo',
        awsRegion: 'us-east-1',
      };
    });
    writeFileSync(
      join(dir, 'run.mjs'),
      `const { handler } = await import('./apply-patches.mjs');
const event = ${JSON.stringify({ Records: records })};
const context = { getRemainingTimeInMillis: () => 30000 };
const out = await handler(event, context);
if (out.batchItemFailures.length > 0) throw new Error('failures: ' + JSON.stringify(out));
process.stdout.write('MAXRSS_KB=' + process.resourceUsage().maxRSS + '\\n');
`,
    );
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, [join(dir, 'run.mjs')], {
        env: {
          ...process.env,
          ...awsEnv,
          ...stack,
          CLEARTALK_BASE_URL: sandboxUrl,
          CLEARTALK_API_KEY_SECRET_ID: secretId,
          POWERTOOLS_LOG_LEVEL: 'ERROR',
          AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
      });
      child.once('exit', (code) =>
        code === 0 ? resolve(text) : reject(new Error(`handler run exited ${code}`)),
      );
    });
    const kb = Number(/MAXRSS_KB=(\d+)/.exec(output)?.[1]);
    return kb / 1024;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const run = randomUUID().slice(0, 8);
  process.stdout.write(
    `bench:worker  node ${process.version}  concurrency ${CONCURRENCY}  rounds ${ROUNDS}  (sandbox in a child process)\n`,
  );
  const sandbox = await startSandboxProcess();
  sandboxPid = sandbox.pid;
  // For `--json` (npm run bench's summary).
  const rows: BenchRow[] = [];
  const toRow = (c: Comparison, target: string, met?: boolean): BenchRow => ({
    figure: `apply path throughput (${c.label}, ${c.jobs} jobs, concurrency ${c.concurrency})`,
    value: c.perSecond.apply,
    unit: 'jobs/s',
    baseline: `raw node:http PATCH loop ${c.perSecond.raw.toFixed(0)} req/s (client alone ${c.perSecond.client.toFixed(0)}/s)`,
    ratio: c.perSecond.apply / c.perSecond.raw,
    target,
    ...(met === undefined ? {} : { met }),
  });
  try {
    if (!args['skip-memory']) {
      const memory = await compare('in-memory state', JOBS, {
        raw: createRawRunner(sandbox.url, run),
        client: createClientRunner(sandbox.url, run),
        apply: createApplyRunner(
          createBenchClient(sandbox.url),
          { state: createMemoryStateStore(), links: createMemoryLinkStore() },
          run,
        ),
      });
      print(memory, 'target >= 0.85');
      rows.push(toRow(memory, '>= 0.85x raw', memory.perSecond.apply / memory.perSecond.raw >= 0.85));
      const alone = await measureLayerAlone(JOBS, run);
      const added = memory.cpuPerJob.apply.sender - memory.cpuPerJob.client.sender;
      process.stdout.write(
        `${''.padEnd(18)} apply layer alone (ClearTalk answering at once, no HTTP): ${alone.toFixed(1)} CPU µs per job; ` +
          `inside the comparison it added ${added.toFixed(1)} µs per job to the sender (apply minus client)\n`,
      );
      rows.push({
        figure: 'apply layer alone, CPU per job (no HTTP; beside what it adds inside the comparison)',
        value: alone,
        unit: 'µs/job',
        baseline: `added to the sender inside the comparison: ${added.toFixed(1)} µs/job (apply minus client)`,
        target: 'reported',
      });
      if (args.spin !== undefined) {
        const micros = Number(args.spin);
        const spin = await compare(`client + ${micros} µs spin`, JOBS, {
          raw: createRawRunner(sandbox.url, `${run}s`),
          client: createClientRunner(sandbox.url, `${run}s`),
          apply: createClientRunner(sandbox.url, `${run}s`, CONCURRENCY, micros),
        });
        // The "apply" columns of this line are the spin side.
        print(spin, `calibration: client + ${micros} µs busy-wait per job in the apply column`);
      }
      if (!args['skip-worker-concurrency'] && WORKER_CONCURRENCY !== CONCURRENCY) {
        // The same comparison at the concurrency the deployed worker runs (reported, not the target).
        const atWorker = await compare(
          'in-memory state',
          JOBS,
          {
            raw: createRawRunner(sandbox.url, `${run}w`, WORKER_CONCURRENCY),
            client: createClientRunner(sandbox.url, `${run}w`, WORKER_CONCURRENCY),
            apply: createApplyRunner(
              createBenchClient(sandbox.url),
              { state: createMemoryStateStore(), links: createMemoryLinkStore() },
              `${run}w`,
              WORKER_CONCURRENCY,
            ),
          },
          WORKER_CONCURRENCY,
        );
        print(atWorker, "reported: the worker's WORKER_CONCURRENCY default");
        rows.push(toRow(atWorker, "reported (the worker's own concurrency)"));
      }
    }
    const moto = await startMoto();
    Object.assign(process.env, localAwsEnv(moto.endpoint));
    try {
      if (!args['skip-dynamo']) {
        const { STATE_TABLE_NAME } = await provisionStack({ prefix: `bd-${run}` });
        const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
          marshallOptions: { removeUndefinedValues: true },
        });
        const stores = {
          state: createStateStore({ client: doc, tableName: STATE_TABLE_NAME }),
          links: {
            ...createLinkStore({ client: doc, tableName: STATE_TABLE_NAME }),
            ...createCreationClaims({ client: doc, tableName: STATE_TABLE_NAME }),
          },
        };
        const dynamo = await compare('DynamoDB on moto', DYNAMO_JOBS, {
          raw: createRawRunner(sandbox.url, `${run}d`),
          client: createClientRunner(sandbox.url, `${run}d`),
          apply: createApplyRunner(createBenchClient(sandbox.url), stores, `${run}d`),
        });
        print(dynamo, 'reported; moto is an emulator');
        rows.push(toRow(dynamo, 'reported (moto-bound)'));
      }
      const peakMb = await measureHandlerMemory(sandbox.url, localAwsEnv(moto.endpoint));
      process.stdout.write(
        `peak RSS, bundled handler, one 10-record batch (fresh process): ${peakMb.toFixed(1)} MB (target < 128 MB)\n`,
      );
      rows.push({
        figure: 'peak RSS of the bundled worker, one 10-record batch',
        value: peakMb,
        unit: 'MB',
        target: '< 128 MB',
        met: peakMb < 128,
      });
    } finally {
      await moto.stop();
    }
  } finally {
    await sandbox.stop();
  }
  writeBenchJson(args.json, {
    benchmark: 'worker',
    rows,
    settings: { jobs: JOBS, concurrency: CONCURRENCY, rounds: ROUNDS, dynamoJobs: DYNAMO_JOBS },
  });
}

await main();
