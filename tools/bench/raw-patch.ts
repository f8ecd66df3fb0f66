import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';

/**
 * What bench:client and bench:worker share: the ClearTalk sandbox in a child process, a
 * concurrency-bounded pool, and the raw keep-alive node:http PATCH loop both measure against.
 */

export const BENCH_USER_AGENT = 'cleartalk-contact-sync/bench';

/** A running ClearTalk sandbox. */
export interface SandboxTarget {
  url: string;
  /** The child's process id (for its CPU time), when it runs in a child process. */
  pid?: number;
  stop(): Promise<void>;
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux); undefined
 * elsewhere. Lets a benchmark report the sandbox child's CPU per request beside its own.
 */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") ": utime, stime are 14, 15.
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
    return (Number(fields[11]) + Number(fields[12])) / ticksPerMs;
  } catch {
    return undefined;
  }
}

/** The sandbox in its own process, as a real API would be: its CPU cost is not mixed with ours. */
export async function startSandboxProcess(apiKey: string): Promise<SandboxTarget> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'tools/sandbox/main.ts'], {
    env: { ...process.env, SANDBOX_PORT: '0', SANDBOX_API_KEY: apiKey },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`sandbox exited with ${code}`)));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
  });
  return {
    url,
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Seeds the sandbox with contacts through its test endpoint. */
export async function seedSandbox(
  url: string,
  contacts: ReadonlyArray<Record<string, unknown>>,
): Promise<void> {
  const seeded = await fetch(`${url}/__sandbox/seed`, { method: 'POST', body: JSON.stringify(contacts) });
  if (!seeded.ok) throw new Error(`seeding the sandbox failed: ${seeded.status}`);
}

/** Runs `task(0..count-1)` with at most `concurrency` in flight. */
export async function runPool(
  count: number,
  concurrency: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    for (let index = next++; index < count; index = next++) await task(index);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}

/**
 * A raw keep-alive PATCH sender with the client's headers: the baseline both benchmarks compare
 * against. It parses the answer as any client must, and rejects anything but a 200 contact.
 */
export function createRawPatchSender(options: {
  url: string;
  apiKey: string;
  concurrency: number;
  userAgent?: string;
}): (path: string, key: string, body: string) => Promise<void> {
  const { hostname, port } = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const userAgent = options.userAgent ?? BENCH_USER_AGENT;
  return (path, key, body) =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          agent,
          hostname,
          port,
          path,
          method: 'PATCH',
          headers: {
            'x-api-key': options.apiKey,
            'Idempotency-Key': key,
            'User-Agent': userAgent,
            Accept: 'application/json',
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const contact = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: unknown };
            if (res.statusCode !== 200 || typeof contact.id !== 'number')
              reject(new Error(`raw: ${res.statusCode}`));
            else resolve();
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}
