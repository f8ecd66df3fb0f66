import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../tools/build/package.js';

/**
 * The deployed-stage `serverless invoke` commands the README and docs/deploy.md give, run as
 * written against a local stand-in for the Lambda API. A backfill runs for up to 15 minutes;
 * osls gives up on an answer after AWS_CLIENT_TIMEOUT (120 s by default) and sends the invoke
 * again, up to 5 times, so a documented command must not wait for the function's answer.
 */

const run = promisify(execFile);

let server: Server;
let endpoint = '';
const invokes: Array<{ path: string; type: string | undefined }> = [];

beforeAll(async () => {
  server = createServer((request: IncomingMessage, response) => {
    const type = request.headers['x-amz-invocation-type'] as string | undefined;
    invokes.push({ path: request.url ?? '', type });
    request.resume();
    // Lambda accepts an asynchronous invoke at once; a synchronous one answers when the
    // function ends, which for a backfill is minutes later: never, here.
    if (type === 'Event') request.on('end', () => response.writeHead(202).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
);

/** Every `npx serverless invoke --stage …` (not `invoke local`) in the operator docs. */
function documentedInvokes(): string[] {
  const commands = new Set<string>();
  for (const file of ['README.md', 'docs/deploy.md']) {
    const text = readFileSync(join(PROJECT_ROOT, file), 'utf8');
    for (const match of text.matchAll(/`((?:[A-Z_]+=\S+ )*npx serverless invoke (?!local)[^`]*)`/g)) {
      if (match[1]) commands.add(match[1]);
    }
  }
  return [...commands];
}

describe('documented serverless invoke commands against a deployed stage', () => {
  it('start the backfill exactly once, without waiting minutes for its answer', async () => {
    const commands = documentedInvokes();
    expect(commands.length).toBeGreaterThan(0);
    for (const command of commands) {
      invokes.length = 0;
      const outcome = await run('sh', ['-c', command], {
        cwd: PROJECT_ROOT,
        timeout: 60_000,
        env: {
          ...process.env,
          AWS_ENDPOINT_URL: endpoint,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_REGION: 'us-east-1',
          // Stands in for osls's 120 s default so the test does not wait minutes; a command that
          // sets its own timeout overrides this.
          AWS_CLIENT_TIMEOUT: process.env.AWS_CLIENT_TIMEOUT ?? '1500',
        },
      }).then(
        () => 'ok',
        (error: { stderr?: string }) => `failed: ${error.stderr ?? ''}`,
      );
      expect(invokes, command).toEqual([
        { path: '/2015-03-31/functions/cleartalk-contact-sync-prod-backfill/invocations', type: 'Event' },
      ]);
      expect(outcome, command).toBe('ok');
    }
  }, 180_000);
});
