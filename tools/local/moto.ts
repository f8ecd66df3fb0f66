import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** A running moto_server (the AWS emulator used by tests, benchmarks and `npm start`). */
export interface MotoServer {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

export const MOTO_INSTALL_HINT =
  'moto_server was not found on PATH: install it with `pip install "moto[server]"` (Python moto 5.x)';

/** Finds a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * moto_server with DynamoDB requests one at a time (moto_server_atomic.py). moto checks a
 * ConditionExpression and writes without a lock between the two, so two concurrent conditional
 * writes on one item could both succeed: with 4 concurrent writers per item, plain moto_server let
 * two or more win on 4 of 300 items (raw `attribute_not_exists` writes) and on 39 of 200 (creation
 * claims); the chaos soak once created two contacts for one person this way. DynamoDB never does
 * that, and the worker's leases, ledger and creation claims rely on it.
 * test/integration/aws/moto-atomic.test.ts checks the fix.
 */
const ATOMIC_LAUNCHER = fileURLToPath(new URL('./moto_server_atomic.py', import.meta.url));

/**
 * The Pythons that may hold moto: `python3`, then the interpreter named by moto_server's own
 * `#!` line (a pipx or virtualenv install; a pyenv shim is resolved with `pyenv which`), then
 * `python`.
 */
function candidatePythons(): string[] {
  const candidates = ['python3'];
  const located = spawnSync('sh', ['-c', 'pyenv which moto_server 2>/dev/null || command -v moto_server'], {
    encoding: 'utf8',
  });
  const script = located.status === 0 ? located.stdout.trim().split('\n')[0] : undefined;
  if (script) {
    try {
      const firstLine = readFileSync(script, 'utf8').split('\n', 1)[0] ?? '';
      const shebang = /^#!\s*(\S*python[\d.]*)\s*$/.exec(firstLine);
      if (shebang?.[1]) candidates.push(shebang[1]);
    } catch {
      // Not readable: the other candidates remain.
    }
  }
  candidates.push('python');
  return candidates;
}

/** The command that runs moto: the atomic launcher under a Python that can import moto, else moto_server. */
function motoCommand(): { command: string; args: string[] } {
  for (const python of candidatePythons()) {
    const probe = spawnSync(python, ['-c', 'import moto.server'], { stdio: 'ignore' });
    if (!probe.error && probe.status === 0) return { command: python, args: [ATOMIC_LAUNCHER] };
  }
  process.stderr.write(
    "warning: no Python found that imports moto (tried python3, moto_server's own interpreter, python); " +
      'starting moto_server as is, whose DynamoDB conditional writes are not atomic under concurrent requests\n',
  );
  return { command: 'moto_server', args: [] };
}

/**
 * Starts moto_server on a free port and waits until it answers.
 * @throws {Error} naming `pip install "moto[server]"` when moto_server is missing
 */
export async function startMoto(options: { port?: number; timeoutMs?: number } = {}): Promise<MotoServer> {
  const probe = spawnSync('moto_server', ['--help'], { stdio: 'ignore' });
  if (probe.error || probe.status !== 0) throw new Error(MOTO_INSTALL_HINT);
  const port = options.port ?? (await freePort());
  const { command, args } = motoCommand();
  const child: ChildProcess = spawn(command, [...args, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited early (${child.exitCode}): ${stderr}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${endpoint} in time: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    endpoint,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3_000).unref();
      }),
  };
}

/** Environment that points the AWS SDK v3 at a local endpoint with dummy credentials. */
export function localAwsEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
  };
}
