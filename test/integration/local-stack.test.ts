import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROJECT_ROOT } from '../../tools/build/package.js';
import { LOCAL_DEFAULTS } from '../../tools/local/defaults.js';
import { freePort } from '../../tools/local/moto.js';
import { type Sandbox, startSandbox } from '../../tools/sandbox/server.js';
import { signShopify, signTypeform } from '../helpers/sign.js';

// The smoke test of `npm start`: the real command in a child process (against this run's
// moto_server), two signed webhooks over HTTP, both PATCHes seen by the sandbox, then Ctrl-C.

interface SampleEvent {
  headers: Record<string, string>;
  body: string;
}

const readEvent = (path: string) =>
  JSON.parse(readFileSync(join(PROJECT_ROOT, 'events', path), 'utf8')) as SampleEvent;

/** `npm start` as a child process, with its output collected. */
interface StackProcess {
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  readonly port: number;
  stdout(): string;
  stderr(): string;
}

async function waitFor<T>(
  stack: StackProcess,
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (stack.child.exitCode !== null)
      throw new Error(
        `npm start exited (${stack.child.exitCode}) while waiting for ${what}:\n${stack.stderr()}`,
      );
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}\nstdout:\n${stack.stdout()}\nstderr:\n${stack.stderr()}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function startStackProcess(extraEnv: Record<string, string> = {}): Promise<StackProcess> {
  const port = await freePort();
  const env: Record<string, string | undefined> = {
    ...process.env,
    PORT: String(port),
    LOCAL_MOTO_ENDPOINT: inject('motoEndpoint'),
    LOCAL_STACK_PREFIX: `smoke-${randomUUID().slice(0, 8)}`,
  };
  delete env.CLEARTALK_BASE_URL;
  delete env.LOCAL_CLEARTALK_API_KEY;
  delete env.LOCAL_TYPEFORM_SECRET;
  delete env.LOCAL_SHOPIFY_SECRET;
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/local/stack.ts'], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stack = { child, exit, port, stdout: () => stdout, stderr: () => stderr };
  await waitFor(
    stack,
    'the start-up banner',
    () => (stdout.includes('Ctrl-C stops everything.') ? true : undefined),
    120_000,
  );
  return stack;
}

async function stopStackProcess(stack: StackProcess | undefined): Promise<void> {
  if (stack && stack.child.exitCode === null) {
    stack.child.kill('SIGKILL');
    await stack.exit;
  }
}

async function postTypeform(port: number, secret: string = LOCAL_DEFAULTS.typeformSecret) {
  const typeform = readEvent('typeform/form-response.json');
  return fetch(`http://127.0.0.1:${port}/webhooks/typeform`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'typeform-signature': signTypeform(typeform.body, secret),
    },
    body: typeform.body,
  });
}

let stack: StackProcess;
let port: number;

beforeAll(async () => {
  stack = await startStackProcess();
  port = stack.port;
}, 150_000);

afterAll(() => stopStackProcess(stack));

describe('npm start (local stack)', () => {
  it('prints the webhook URLs, the sandbox and the next command to try', () => {
    expect(stack.stdout()).toContain(`POST http://127.0.0.1:${port}/webhooks/typeform`);
    expect(stack.stdout()).toContain(`POST http://127.0.0.1:${port}/webhooks/shopify`);
    expect(stack.stdout()).toMatch(/ClearTalk sandbox\s+http:\/\/127\.0\.0\.1:\d+/);
    expect(stack.stdout()).toContain('npm run send -- typeform events/typeform/');
  });

  it('runs a Typeform API stand-in for the backfill, its token in the secret the banner names', async () => {
    const match =
      /Typeform API\s+(http:\/\/127\.0\.0\.1:\d+)\s+\(stand-in for the backfill: token secret (\S+), form (\w+)\)/.exec(
        stack.stdout(),
      );
    expect(match).not.toBeNull();
    const [, url, secretId, form] = match as RegExpExecArray;
    const token = (await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretId })))
      .SecretString;
    // The window of events/backfill/request-typeform.json, the sample the README invokes.
    const request = readEvent('backfill/request-typeform.json') as unknown as {
      since: string;
      until: string;
    };
    const answer = await fetch(
      `${url}/forms/${form}/responses?since=${request.since}&until=${request.until}&page_size=1000`,
      { headers: { authorization: `Bearer ${token}` } },
    );
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { total_items: number }).total_items).toBe(30);
  });

  it('carries a signed Typeform and a signed Shopify webhook to ClearTalk PATCHes, then stops on Ctrl-C', async () => {
    const sandboxUrl = /ClearTalk sandbox\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(stack.stdout())?.[1];
    expect(sandboxUrl).toBeDefined();

    const typeformAnswer = await postTypeform(port);
    expect(typeformAnswer.status).toBe(200);
    expect(await typeformAnswer.json()).toMatchObject({ status: 'accepted' });

    const shopify = readEvent('shopify/customers-update.json');
    const shopifyAnswer = await fetch(`http://127.0.0.1:${port}/webhooks/shopify`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shopify-topic': shopify.headers['x-shopify-topic'] ?? 'customers/update',
        'x-shopify-shop-domain': shopify.headers['x-shopify-shop-domain'] ?? LOCAL_DEFAULTS.shopifyShop,
        'x-shopify-api-version': '2025-10',
        'x-shopify-webhook-id': randomUUID(),
        'x-shopify-hmac-sha256': signShopify(shopify.body, LOCAL_DEFAULTS.shopifySecret),
      },
      body: shopify.body,
    });
    expect(shopifyAnswer.status).toBe(200);
    expect(await shopifyAnswer.json()).toMatchObject({ status: 'accepted' });

    // A wrong signature is refused at the door and reaches nobody.
    const forged = await postTypeform(port, 'wrong');
    expect(forged.status).toBe(401);

    const patches = await waitFor(
      stack,
      'both PATCHes at the sandbox',
      async () => {
        const log = (await (await fetch(`${sandboxUrl}/__sandbox/requests`)).json()) as Array<{
          method: string;
          path: string;
          status: number;
          idempotencyKey?: string;
        }>;
        const done = log.filter((r) => r.method === 'PATCH' && r.status === 200);
        const paths = new Set(done.map((r) => r.path));
        return paths.has('/contacts/123') && paths.has('/contacts/4711') ? done : undefined;
      },
      60_000,
    );
    expect(patches.map((r) => r.idempotencyKey).sort()).toEqual([
      expect.stringMatching(/^shopify:cleartalk-demo\.myshopify\.com:customer:706405506930370084:/),
      expect.stringMatching(/^typeform:lT4Z3j:a3a12ec67a1365927098a606107fac15#[0-9a-f]{16}$/),
    ]);
    const contacts = (await (await fetch(`${sandboxUrl}/__sandbox/contacts`)).json()) as Array<{
      id: number;
      lastName: string | null;
      customField: Record<string, unknown> | null;
    }>;
    const ada = contacts.find((c) => c.id === 123);
    // The worker merged customField: the demo contact's own key survived the Typeform answers.
    expect(ada?.customField).toMatchObject({ crm_tier: 'gold', plan: 'Pro' });

    // One log line per job outcome.
    await waitFor(
      stack,
      'two job lines',
      () => ((stack.stdout().match(/ job applied /g) ?? []).length >= 2 ? true : undefined),
      10_000,
    );

    stack.child.kill('SIGINT');
    const code = await Promise.race([
      stack.exit,
      new Promise((resolve) => setTimeout(() => resolve('timeout'), 20_000)),
    ]);
    expect(code).toBe(0);
    expect(stack.stderr()).toContain('stopped');
    // Nothing answers on the webhook port any more.
    await expect(fetch(`http://127.0.0.1:${port}/webhooks/typeform`, { method: 'POST' })).rejects.toThrow();
  }, 120_000);
});

describe('npm start with CLEARTALK_BASE_URL (a real ClearTalk account)', () => {
  let clearTalk: Sandbox;
  let real: StackProcess | undefined;

  beforeAll(async () => {
    // Stands in for the real API: the stack must not start its own sandbox and must use this key.
    clearTalk = await startSandbox({ port: 0, apiKey: 'real-account-key', quiet: true });
    clearTalk.seed([{ id: 123, firstName: 'Ada', customField: {} }]);
    real = await startStackProcess({
      CLEARTALK_BASE_URL: clearTalk.url,
      LOCAL_CLEARTALK_API_KEY: 'real-account-key',
    });
  }, 150_000);

  afterAll(async () => {
    await stopStackProcess(real);
    await clearTalk?.stop();
  });

  it('starts no sandbox and sends the PATCH to the given ClearTalk with the seeded key', async () => {
    const running = real as StackProcess;
    expect(running.stdout()).toContain(`ClearTalk          ${clearTalk.url}  (real account`);
    expect(running.stdout()).not.toContain('ClearTalk sandbox');
    expect((await postTypeform(running.port)).status).toBe(200);
    const patch = await waitFor(
      running,
      'the PATCH at the given ClearTalk',
      () => clearTalk.requests().find((r) => r.method === 'PATCH' && r.path === '/contacts/123'),
      60_000,
    );
    // 200 means the x-api-key matched the key seeded from LOCAL_CLEARTALK_API_KEY.
    expect(patch.status).toBe(200);
    expect(clearTalk.contact(123)?.firstName).toBe('Zoë');
  }, 90_000);
});

describe('npm start with MAX_RECEIVE_COUNT', () => {
  let tuned: StackProcess | undefined;
  const prefix = `smoke-mrc-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    tuned = await startStackProcess({ MAX_RECEIVE_COUNT: '9', LOCAL_STACK_PREFIX: prefix });
  }, 150_000);

  afterAll(() => stopStackProcess(tuned));

  it("keeps the queue's redrive one receive after the worker's, as the deploy does", async () => {
    // With the default 6 the queue would move a record to the DLQ, without a reason, before the
    // worker's 9th receive could dead-letter it as retries-exhausted.
    const sqs = new SQSClient({});
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: `${prefix}-patches.fifo` }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['RedrivePolicy'] }),
    );
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toMatchObject({ maxReceiveCount: 10 });
  });
});
