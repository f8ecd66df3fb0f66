/**
 * `npm run soak -- --jobs 5000` (issue 7 §1): the chaos soak against a moto_server of its own (or
 * the one `AWS_ENDPOINT_URL` names with `--use-env-endpoint`) and an in-process ClearTalk sandbox.
 * Prints the figures and checks as a table; exit code 1 when a check failed.
 *
 * Options: --jobs 5000 --contacts <n> --containers 4 --seed 1 --wave-size 100 --max-depth 200
 *          --client-timeout-ms 300 --slow-ms 700 --max-minutes 20 --json <file> --echo-logs
 *          --cross-group-share 0 (share of the producer's jobs for a linked contact sent by contact id)
 *          --new-person-share 0.05 (share of the jobs for new people, whose contacts the worker creates)
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { writeBenchJson } from '../bench/report.js';
import { localAwsEnv, startMoto } from '../local/moto.js';
import { formatSoakReport, runSoak } from './run.js';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '5000' },
    contacts: { type: 'string' },
    containers: { type: 'string', default: '4' },
    seed: { type: 'string', default: '1' },
    'wave-size': { type: 'string', default: '100' },
    'max-depth': { type: 'string', default: '200' },
    'client-timeout-ms': { type: 'string', default: '300' },
    'slow-ms': { type: 'string', default: '700' },
    'max-minutes': { type: 'string', default: '20' },
    json: { type: 'string' },
    'cross-group-share': { type: 'string', default: '0' },
    'new-person-share': { type: 'string', default: '0.05' },
    'echo-logs': { type: 'boolean', default: false },
    'use-env-endpoint': { type: 'boolean', default: false },
  },
});

async function main(): Promise<number> {
  const moto = args['use-env-endpoint'] && process.env.AWS_ENDPOINT_URL ? undefined : await startMoto();
  if (moto) Object.assign(process.env, localAwsEnv(moto.endpoint));
  const machine = `node ${process.version}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg()
    .map((n) => n.toFixed(1))
    .join(' ')}`;
  process.stdout.write(`soak: ${args.jobs} jobs, ${args.containers} worker containers; ${machine}\n`);
  try {
    const report = await runSoak({
      jobs: Number(args.jobs),
      ...(args.contacts ? { contacts: Number(args.contacts) } : {}),
      containers: Number(args.containers),
      seed: Number(args.seed),
      waveSize: Number(args['wave-size']),
      maxQueueDepth: Number(args['max-depth']),
      clientTimeoutMs: Number(args['client-timeout-ms']),
      slowMs: Number(args['slow-ms']),
      maxWallMs: Number(args['max-minutes']) * 60_000,
      echoWorkerLogs: args['echo-logs'],
      crossGroupShare: Number(args['cross-group-share']),
      newPersonShare: Number(args['new-person-share']),
      progress: (line) => process.stdout.write(`  ${line}\n`),
    });
    process.stdout.write(formatSoakReport(report));
    // `--json`: rows for npm run bench's summary, plus the whole report.
    const passed = report.checks.filter((c) => c.ok).length;
    writeBenchJson(args.json, {
      benchmark: 'soak',
      settings: { jobs: Number(args.jobs), containers: Number(args.containers), machine },
      rows: [
        {
          figure: `chaos soak checks (${args.jobs} jobs, 37% of requests faulted)`,
          value: passed,
          unit: `of ${report.checks.length} checks pass`,
          target: 'all pass',
          met: report.ok,
        },
        {
          figure: 'chaos soak wall time',
          value: report.wallMs / 1_000,
          unit: 's',
          target: 'reported',
        },
      ],
      details: report,
    });
    return report.ok ? 0 : 1;
  } finally {
    await moto?.stop();
  }
}

process.exitCode = await main();
