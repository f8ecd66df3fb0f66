import { readFileSync, writeFileSync } from 'node:fs';

/**
 * The machine-readable result of one benchmark script (`--json <file>`), collected by
 * `npm run bench` (tools/bench/all.ts) into the summary table of docs/benchmarks.md.
 */

/** One figure of a benchmark, with the baseline it was compared with in the same run. */
export interface BenchRow {
  /** What was measured, e.g. `PATCH throughput: client vs raw node:http`. */
  readonly figure: string;
  readonly value: number;
  /** e.g. `req/s`, `µs/event`, `MB`, `ms`. */
  readonly unit: string;
  /** The comparison side measured in the same run, with its figure; absent for absolute targets. */
  readonly baseline?: string;
  /** The number the target is about (e.g. client/raw); absent when the target is absolute. */
  readonly ratio?: number;
  /** e.g. `>= 0.9x raw`, `< 128 MB`, or `reported` when there is no target. */
  readonly target: string;
  /** Whether the target was met; absent for reported-only figures. */
  readonly met?: boolean;
}

export interface BenchResult {
  readonly benchmark: string;
  readonly rows: BenchRow[];
  /** Settings of the run (sizes, rounds), for the summary's "command" column. */
  readonly settings?: Record<string, unknown>;
  /** Anything else the benchmark wants kept (e.g. the soak's whole report). */
  readonly details?: unknown;
}

/** The median of `values` (NaN when empty): the benchmarks' statistic over rounds and runs. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Writes a benchmark's rows to `file` (no-op without a file: `--json` not given). */
export function writeBenchJson(file: string | undefined, result: BenchResult): void {
  if (!file) return;
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
}

/**
 * Reads a file written by {@link writeBenchJson}.
 * @throws {Error} when the file is missing or not a benchmark result
 */
export function readBenchJson(file: string): BenchResult {
  const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<BenchResult>;
  if (typeof data.benchmark !== 'string' || !Array.isArray(data.rows)) {
    throw new Error(`${file} is not a benchmark result`);
  }
  return data as BenchResult;
}
