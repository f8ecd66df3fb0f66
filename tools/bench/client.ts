import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createClearTalkClient } from '../../lib/cleartalk/client.js';
import { startSandbox } from '../sandbox/server.js';
import {
  BENCH_USER_AGENT,
  createRawPatchSender,
  runPool,
  type SandboxTarget,
  seedSandbox,
  startSandboxProcess,
} from './raw-patch.js';
import { writeBenchJson } from './report.js';

/**
 * `npm run bench:client`: PATCHes to the ClearTalk sandbox through the client against a raw
 * keep-alive node:http loop sending the same requests (same headers, same bodies, same
 * concurrency) to the same sandbox in the same run. The sides take turns, alternating which
 * goes first round by round, so drift on a shared machine hits both alike.
 *
 * Options: --requests 10000 (per side) --concurrency 32 --rounds 4 --warmup 2000
 *          --in-process (run the sandbox in this process instead of a child process)
 *          --json <file> (the figures for npm run bench)
 */
const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '32' },
    rounds: { type: 'string', default: '4' },
    warmup: { type: 'string', default: '2000' },
    'in-process': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const total = Number(args.requests);
const concurrency = Number(args.concurrency);
const rounds = Number(args.rounds);
const warmup = Number(args.warmup);
const API_KEY = 'bench-key';
const CONTACTS = 1_000;
const USER_AGENT = BENCH_USER_AGENT;

async function startTarget(): Promise<SandboxTarget> {
  if (args['in-process']) {
    const sandbox = await startSandbox({ port: 0, apiKey: API_KEY, quiet: true });
    return { url: sandbox.url, stop: () => sandbox.stop() };
  }
  // A separate process, as a real API would be: the client's CPU cost is not hidden behind
  // the server's, nor the server's added to it.
  return startSandboxProcess(API_KEY);
}

function job(side: string, round: number, index: number) {
  return {
    id: String((index % CONTACTS) + 1),
    key: `bench:${side}:${round}:${index}:${process.pid}`,
    patch: { tag: `t${index % 7}`, customField: { plan: index % 2 === 0 ? 'pro' : 'free', round } },
  };
}

type Runner = (round: number, count: number, latencies: number[]) => Promise<void>;

function createRawRunner(url: string): Runner {
  const send = createRawPatchSender({ url, apiKey: API_KEY, concurrency, userAgent: USER_AGENT });
  return (round, count, latencies) =>
    runPool(count, concurrency, async (index) => {
      const { id, key, patch } = job('raw', round, index);
      const started = performance.now();
      await send(`/contacts/${id}`, key, JSON.stringify(patch));
      latencies.push(performance.now() - started);
    });
}

function createClientRunner(url: string): Runner {
  const client = createClearTalkClient({
    baseUrl: url,
    getApiKey: async () => API_KEY,
    userAgent: USER_AGENT,
    maxAttempts: 1,
  });
  return (round, count, latencies) =>
    runPool(count, concurrency, async (index) => {
      const { id, key, patch } = job('client', round, index);
      const started = performance.now();
      await client.updateContact(id, patch, { idempotencyKey: key });
      latencies.push(performance.now() - started);
    });
}

interface Tally {
  requests: number;
  ms: number;
  /** CPU time of this process (user + system), in microseconds. */
  cpuUs: number;
  latencies: number[];
}

async function measure(runner: Runner, round: number, count: number, tally: Tally): Promise<number> {
  const started = performance.now();
  const cpu = process.cpuUsage();
  await runner(round, count, tally.latencies);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  tally.requests += count;
  tally.ms += ms;
  tally.cpuUs += used.user + used.system;
  return (count / ms) * 1000;
}

function newTally(): Tally {
  return { requests: 0, ms: 0, cpuUs: 0, latencies: [] };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const target = await startTarget();
try {
  const seed = Array.from({ length: CONTACTS }, (_, i) => ({ id: i + 1, firstName: `Bench${i + 1}` }));
  await seedSandbox(target.url, seed);

  const sides: Array<{ name: string; run: Runner; tally: Tally }> = [
    { name: 'raw', run: createRawRunner(target.url), tally: newTally() },
    { name: 'client', run: createClientRunner(target.url), tally: newTally() },
  ];
  for (const side of sides) await side.run(-1, warmup, []);

  const perRound = Math.ceil(total / rounds);
  console.log(
    `bench:client: ${fmt(rounds * perRound)} PATCHes per side, concurrency ${concurrency}, ${rounds} rounds, ` +
      `sandbox ${args['in-process'] ? 'in-process' : 'in a child process'} (node ${process.version})`,
  );
  console.log('round  order         raw req/s  client req/s  client/raw');
  for (let round = 0; round < rounds; round += 1) {
    const order = sides.map((_, i) => sides[(i + round) % sides.length] as (typeof sides)[number]);
    const rates = new Map<string, number>();
    for (const side of order) rates.set(side.name, await measure(side.run, round, perRound, side.tally));
    const rate = (name: string) => rates.get(name) ?? Number.NaN;
    console.log(
      `${String(round + 1).padStart(5)}  ${order
        .map((side) => side.name)
        .join(', ')
        .padEnd(12)} ` +
        `${fmt(rate('raw')).padStart(9)}  ${fmt(rate('client')).padStart(12)}  ` +
        `${fmt(rate('client') / rate('raw'), 3).padStart(10)}`,
    );
  }
  const [raw, client] = sides.map((side) => side.tally) as [Tally, Tally];
  const rateOf = (tally: Tally) => (tally.requests / tally.ms) * 1000;
  console.log(
    `total  ${''.padEnd(12)} ${fmt(rateOf(raw)).padStart(9)}  ` +
      `${fmt(rateOf(client)).padStart(12)}  ${fmt(rateOf(client) / rateOf(raw), 3).padStart(10)}`,
  );
  const p = (tally: Tally) =>
    `${fmt(percentile(tally.latencies, 50), 1)}/${fmt(percentile(tally.latencies, 99), 1)}`;
  console.log(`latency p50/p99 ms: raw ${p(raw)}, client ${p(client)}`);
  if (!args['in-process']) {
    // On a shared machine wall-clock rates drift; CPU per request in the sending process is
    // the steadier measure of what each side itself costs.
    const cpu = (tally: Tally) => fmt(tally.cpuUs / tally.requests);
    console.log(`sender CPU per request (µs): raw ${cpu(raw)}, client ${cpu(client)}`);
  }
  const ratio = rateOf(client) / rateOf(raw);
  console.log(`client/raw   = ${fmt(ratio, 3)} (target >= 0.9): ${ratio >= 0.9 ? 'met' : 'NOT met'}`);
  // `--json`: the figures for npm run bench's summary.
  writeBenchJson(args.json, {
    benchmark: 'client',
    settings: { requests: rounds * perRound, concurrency, rounds, inProcess: args['in-process'] },
    rows: [
      {
        figure: `PATCH throughput through the ClearTalk client (concurrency ${concurrency})`,
        value: rateOf(client),
        unit: 'req/s',
        baseline: `raw keep-alive node:http loop ${fmt(rateOf(raw))} req/s`,
        ratio,
        target: '>= 0.9x raw',
        met: ratio >= 0.9,
      },
    ],
  });
} finally {
  await target.stop();
}
