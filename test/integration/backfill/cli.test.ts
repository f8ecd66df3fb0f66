import { afterAll, describe, expect, it } from 'vitest';
import { startTypeformApiStandin, type TypeformStandin } from '../../../tools/standins/typeform-api.js';
import { runTool } from '../tools/run-tool.js';
import { createTestSecret, provisionTestStack, queueDepth } from './harness.js';

const FORM = 'cliForm1';
const running: TypeformStandin[] = [];
afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
});

function run(args: string[], env: Record<string, string>) {
  return runTool('backfill', args, env);
}

describe('npm run backfill', () => {
  it('runs the backfill from a terminal: a progress line on stderr, the summary table on stdout', async () => {
    const standin = await startTypeformApiStandin({ token: 'tfp_cli', forms: { [FORM]: { count: 9 } } });
    running.push(standin);
    const stack = await provisionTestStack();
    const env = {
      ...stack,
      TYPEFORM_API_TOKEN_SECRET_ID: await createTestSecret('tfp_cli'),
      TYPEFORM_API_BASE_URL: standin.url,
    };
    const dry = await run(['--source', 'typeform', '--form', FORM, '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toMatch(new RegExp(`\\[typeform ${FORM}\\] .*9/9`));
    expect(dry.stdout).toMatch(new RegExp(`typeform\\s+${FORM}\\s+1\\s+9\\s+9\\s+0\\s+0\\s+done`));
    expect(dry.stdout).toMatch(/dry run: nothing was enqueued/);
    expect(await queueDepth(stack.PATCH_QUEUE_URL)).toBe(0);

    const real = await run(['--source', 'typeform', '--form', FORM], env);
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(new RegExp(`typeform\\s+${FORM}\\s+1\\s+9\\s+9\\s+9\\s+0\\s+done`));
    expect(await queueDepth(stack.PATCH_QUEUE_URL)).toBe(9);
  });

  it('exits 2 with the problems listed for a bad request', async () => {
    const out = await run(['--source', 'typeform', '--since', 'last week'], {});
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/since/);
  });

  it('exits 2, not 1, for arguments it cannot parse (a forgotten --form, a missing value)', async () => {
    const positional = await run(['--source', 'typeform', 'lT4Z3j'], {});
    expect(positional.code).toBe(2);
    expect(positional.stderr).toMatch(/lT4Z3j/);
    const missingValue = await run(['--source', 'typeform', '--since'], {});
    expect(missingValue.code).toBe(2);
    expect(missingValue.stderr).toMatch(/--since/);
  });
});
