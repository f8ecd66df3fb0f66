/**
 * `npm run bench` (issue 7 §3): runs every benchmark script one after the other (never side by
 * side: they would measure each other), each with `--json <file>`, and writes docs/benchmarks.md:
 * ONE summary table at the top (figure, target, the baseline measured in the same run, the ratio,
 * met/missed) with the machine it ran on, then the owners' hand-written sections as they are, then
 * this run's full output per benchmark. Only the two marked blocks are rewritten.
 *
 * A full run takes about 10 minutes on the 2-core dev machine (about 20 with --with-soak).
 *
 * Options: --only client,webhooks,worker,backfill,cold-start[,soak]   (default: all but soak)
 *          --with-soak            also run `npm run soak -- --jobs 5000` and list its checks
 *          --quick                small sizes, to prove the wiring (numbers are not comparable)
 *          --out docs/benchmarks.md   --no-write (print only)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchResult, type BenchRow, readBenchJson } from './report.js';

interface BenchSpec {
  readonly name: string;
  readonly script: string;
  /** The full run's arguments (the scripts' defaults unless noted). */
  readonly full: readonly string[];
  /** Small sizes for --quick. */
  readonly quick: readonly string[];
  /** Rough full-run duration on the 2-core dev machine, for the plan printed at the start. */
  readonly estimate: string;
}

const BENCHES: readonly BenchSpec[] = [
  {
    name: 'client',
    script: 'tools/bench/client.ts',
    full: [],
    quick: ['--requests', '400', '--rounds', '2', '--warmup', '50'],
    estimate: '~1 min',
  },
  {
    name: 'webhooks',
    script: 'tools/bench/webhooks.ts',
    full: [],
    quick: ['--iterations', '200', '--rounds', '2', '--warmup', '100'],
    estimate: '~2 min',
  },
  {
    name: 'worker',
    script: 'tools/bench/worker.ts',
    full: [],
    quick: ['--jobs', '400', '--rounds', '2', '--warmup', '50', '--dynamo-jobs', '40'],
    estimate: '~2 min',
  },
  {
    name: 'backfill',
    script: 'tools/bench/backfill.ts',
    full: [],
    quick: ['--sizes', '200,2000'],
    estimate: '~3 min',
  },
  {
    name: 'cold-start',
    script: 'tools/bench/cold-start.ts',
    full: [],
    quick: ['--runs', '3'],
    estimate: '~2 min',
  },
  {
    name: 'soak',
    script: 'tools/soak/main.ts',
    full: ['--jobs', '5000'],
    quick: ['--jobs', '300'],
    estimate: '~10 min',
  },
];

const { values: args } = parseArgs({
  options: {
    only: { type: 'string' },
    'with-soak': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: 'docs/benchmarks.md' },
    'no-write': { type: 'boolean', default: false },
  },
});

const SUMMARY_START =
  '<!-- bench:summary:start (written by npm run bench; edit the sections below instead) -->';
const SUMMARY_END = '<!-- bench:summary:end -->';
const DETAILS_START = '<!-- bench:details:start (written by npm run bench) -->';
const DETAILS_END = '<!-- bench:details:end -->';

interface Outcome {
  readonly spec: BenchSpec;
  readonly args: readonly string[];
  readonly result?: BenchResult;
  readonly output: string;
  readonly exitCode: number | null;
  readonly seconds: number;
}

/** Node version, cores, memory and load: the figures mean little without them. */
function describeMachine(): string {
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return (
    `node ${process.version}, ${platform()} ${release()}, ${cpus().length} cores (${model}), ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB, load average at start ${loadavg()
      .map((n) => n.toFixed(2))
      .join(' / ')}`
  );
}

async function runBench(spec: BenchSpec, quick: boolean, dir: string): Promise<Outcome> {
  const jsonFile = join(dir, `${spec.name}.json`);
  const benchArgs = [...(quick ? spec.quick : spec.full), '--json', jsonFile];
  process.stdout.write(`\n== ${spec.name}: tsx ${spec.script} ${benchArgs.slice(0, -2).join(' ')}\n`);
  const started = Date.now();
  let output = '';
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', spec.script, ...benchArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    const collect = (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      process.stdout.write(text);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', (chunk: Buffer) => {
      // The SDK's Node-version notice is noise in the report; everything else is kept.
      const text = chunk.toString();
      if (!/NodeVersionSupportWarning|node >=22|a\.co\/|trace-warnings|^\s*$/.test(text)) output += text;
      process.stderr.write(text);
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  const seconds = (Date.now() - started) / 1_000;
  let result: BenchResult | undefined;
  if (existsSync(jsonFile)) result = readBenchJson(jsonFile);
  return { spec, args: benchArgs.slice(0, -2), ...(result ? { result } : {}), output, exitCode, seconds };
}

function formatValue(row: BenchRow): string {
  const digits = Math.abs(row.value) >= 100 ? 0 : Math.abs(row.value) >= 10 ? 1 : 2;
  return `${row.value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${row.unit}`;
}

function verdict(row: BenchRow): string {
  if (row.met === undefined) return 'reported';
  return row.met ? 'met' : '**missed**';
}

/** The summary block: one table over every benchmark, the machine, the commands. */
function buildSummary(outcomes: readonly Outcome[], machine: string, when: string, quick: boolean): string {
  const lines = [
    SUMMARY_START,
    '## Summary (`npm run bench`)',
    '',
    `Run ${when}${quick ? ' with `--quick` (small sizes: the wiring is proven, the figures are NOT representative)' : ''}.`,
    `Machine: ${machine}.`,
    'Every ratio compares two sides measured in the same run, taking turns, so load on the shared machine hits both alike.',
    '',
    '| benchmark | figure | value | baseline (same run) | ratio | target | result |',
    '|---|---|---:|---|---:|---|---|',
  ];
  for (const outcome of outcomes) {
    const rows = outcome.result?.rows ?? [];
    if (rows.length === 0) {
      lines.push(
        `| ${outcome.spec.name} | (no figures: exit code ${outcome.exitCode}; see its output below) | | | | | **failed** |`,
      );
      continue;
    }
    for (const row of rows) {
      lines.push(
        `| ${outcome.spec.name} | ${row.figure} | ${formatValue(row)} | ${row.baseline ?? '–'} | ${
          row.ratio === undefined ? '–' : `${row.ratio.toFixed(3)}`
        } | ${row.target} | ${verdict(row)} |`,
      );
    }
  }
  lines.push(
    '',
    'Commands (each also accepts `--json <file>`): ' +
      outcomes
        .map(
          (o) =>
            `\`tsx ${o.spec.script}${o.args.length > 0 ? ` ${o.args.join(' ')}` : ''}\` (${o.seconds.toFixed(0)} s)`,
        )
        .join('; ') +
      '.',
    SUMMARY_END,
  );
  return lines.join('\n');
}

function buildDetails(outcomes: readonly Outcome[], when: string): string {
  const lines = [DETAILS_START, `## Latest \`npm run bench\` output (${when})`, ''];
  for (const outcome of outcomes) {
    lines.push(
      `### ${outcome.spec.name}`,
      '',
      `\`tsx ${outcome.spec.script} ${outcome.args.join(' ')}\`, ${outcome.seconds.toFixed(0)} s, exit ${outcome.exitCode}`,
      '',
      '```text',
      outcome.output.trimEnd(),
      '```',
      '',
    );
  }
  lines.push(DETAILS_END);
  return lines.join('\n');
}

/** Replaces the two marked blocks of the document (inserting them when absent); the rest is kept. */
function mergeIntoDocument(document: string, summary: string, details: string): string {
  const replace = (
    text: string,
    start: string,
    end: string,
    block: string,
    insert: (t: string) => string,
  ) => {
    const from = text.indexOf(start.slice(0, 28));
    const to = text.indexOf(end);
    if (from >= 0 && to > from) return `${text.slice(0, from)}${block}${text.slice(to + end.length)}`;
    return insert(text);
  };
  let text = document.trim() === '' ? '# Benchmarks\n' : document;
  text = replace(text, SUMMARY_START, SUMMARY_END, summary, (t) => {
    // After the title line (and its first paragraph, if any), before the first section.
    const firstSection = t.indexOf('\n## ');
    return firstSection < 0
      ? `${t.trimEnd()}\n\n${summary}\n`
      : `${t.slice(0, firstSection + 1)}${summary}\n${t.slice(firstSection)}`;
  });
  text = replace(text, DETAILS_START, DETAILS_END, details, (t) => `${t.trimEnd()}\n\n${details}\n`);
  return text.endsWith('\n') ? text : `${text}\n`;
}

async function main(): Promise<number> {
  const wanted = args.only?.split(',').map((s) => s.trim()) ?? [
    'client',
    'webhooks',
    'worker',
    'backfill',
    'cold-start',
    ...(args['with-soak'] ? ['soak'] : []),
  ];
  const unknown = wanted.filter((name) => !BENCHES.some((b) => b.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark(s): ${unknown.join(', ')}\n`);
    return 2;
  }
  const specs = BENCHES.filter((b) => wanted.includes(b.name));
  const machine = describeMachine();
  const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  process.stdout.write(
    `npm run bench: ${specs.map((s) => `${s.name} (${args.quick ? 'quick' : s.estimate})`).join(', ')}\n${machine}\n`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'bench-all-'));
  const outcomes: Outcome[] = [];
  try {
    for (const spec of specs) outcomes.push(await runBench(spec, args.quick, dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = buildSummary(outcomes, machine, when, args.quick);
  process.stdout.write(`\n${summary}\n`);
  if (!args['no-write']) {
    const previous = existsSync(args.out) ? readFileSync(args.out, 'utf8') : '';
    writeFileSync(args.out, mergeIntoDocument(previous, summary, buildDetails(outcomes, when)));
    process.stdout.write(`\nwrote ${args.out}\n`);
  }
  return outcomes.every((o) => o.exitCode === 0 && o.result) ? 0 : 1;
}

process.exitCode = await main();
