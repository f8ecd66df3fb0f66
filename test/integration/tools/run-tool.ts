import { spawn } from 'node:child_process';

export interface ToolRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

// The variables a tool could pick up from the test process; each run gets only the ones it passes.
const CONTRACT_VARIABLES = [
  'PATCH_QUEUE_URL',
  'DEAD_LETTER_QUEUE_URL',
  'STATE_TABLE_NAME',
  'CLEARTALK_BASE_URL',
  'CLEARTALK_API_KEY_SECRET_ID',
  'DEFAULT_PHONE_REGION',
];

/**
 * Runs `tools/<tool>.ts` as `npm run <tool>` does (`tsx tools/<tool>.ts ...args`), with the test
 * process's AWS settings (moto) plus `env`, and collects its output and exit code.
 */
export function runTool(
  tool: 'dlq' | 'links' | 'backfill' | 'provision',
  args: readonly string[],
  env: Record<string, string> = {},
) {
  const base = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !CONTRACT_VARIABLES.includes(name)),
  );
  return new Promise<ToolRun>((resolve, reject) => {
    const child = spawn('node_modules/.bin/tsx', [`tools/${tool}.ts`, ...args], { env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The lines of an output, without the trailing empty one. */
export function linesOf(output: string): string[] {
  return output.replace(/\n$/, '').split('\n');
}
