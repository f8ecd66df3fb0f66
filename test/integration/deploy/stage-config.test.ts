import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../tools/build/package.js';

const run = promisify(execFile);

// infra/check-stage-config.cjs as serverless runs it: a stage parameter the functions would
// refuse at cold start stops `serverless package` (and so `deploy`) before anything is built.
describe('serverless package with stage parameters the functions would refuse', () => {
  it('stops with every problem and the functions it concerns, and writes nothing', async () => {
    const out = await mkdtemp(join(tmpdir(), 'stage-config-'));
    try {
      const outcome = await run(
        join(PROJECT_ROOT, 'node_modules', '.bin', 'serverless'),
        [
          'package',
          '--package',
          out,
          ...['defaultPhoneRegion=usa', 'mappingsFile=mappings/missing.json'].flatMap((p) => ['--param', p]),
        ],
        { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024 },
      ).then(
        () => ({ failed: false, output: '' }),
        (error: { stdout?: string; stderr?: string }) => ({
          failed: true,
          output: `${error.stdout ?? ''}${error.stderr ?? ''}`,
        }),
      );
      expect(outcome.failed).toBe(true);
      expect(outcome.output).toContain('The stage configuration would fail at cold start');
      expect(outcome.output).toMatch(
        /DEFAULT_PHONE_REGION: must be a two-letter region code .*\(typeformWebhook, .*backfill\)/,
      );
      expect(outcome.output).toMatch(/MAPPINGS_FILE: cannot read mappings\/missing\.json \(ENOENT\)/);
      expect(await readdir(out)).toEqual([]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 120_000);
});
