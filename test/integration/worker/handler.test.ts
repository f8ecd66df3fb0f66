import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLambdaContext } from '../../../tools/local/lambda-context.js';
import { provisionStack } from '../../../tools/provision.js';
import { type Sandbox, startSandbox } from '../../../tools/sandbox/server.js';
import { buildSqsRecord } from '../../helpers/sqs-record.js';
import { buildJob } from '../../helpers/worker-harness.js';

// handlers/apply-patches.ts as Lambda runs it: configuration from the environment at cold start.
let sandbox: Sandbox;
let handler: (event: SQSEvent, context: ReturnType<typeof createLambdaContext>) => Promise<SQSBatchResponse>;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, quiet: true, apiKey: `key-${randomUUID()}` });
  const stack = await provisionStack({ prefix: `hd-${randomUUID().slice(0, 8)}` });
  const secretId = `handler-test/${randomUUID()}`;
  await new SecretsManagerClient({}).send(
    new CreateSecretCommand({ Name: secretId, SecretString: sandbox.apiKey }),
  );
  Object.assign(process.env, {
    ...stack,
    CLEARTALK_BASE_URL: sandbox.url,
    CLEARTALK_API_KEY_SECRET_ID: secretId,
    DEADLINE_SAFETY_MS: '1000',
    // One attempt: a 503 hands the record back at once instead of waiting real backoff.
    CLEARTALK_MAX_ATTEMPTS: '1',
  });
  vi.resetModules();
  ({ handler } = await import('../../../handlers/apply-patches.js'));
});

afterAll(() => sandbox.stop());

describe('handlers/apply-patches', () => {
  it('applies a batch, reports failures per record and never logs contact values', async () => {
    sandbox.seed([{ id: 1 }]);
    const writes: string[] = [];
    const capture = (chunk: unknown) => {
      writes.push(String(chunk));
      return true;
    };
    const spies = [
      vi.spyOn(process.stdout, 'write').mockImplementation(capture),
      vi.spyOn(process.stderr, 'write').mockImplementation(capture),
    ];
    let response: SQSBatchResponse;
    try {
      const good = buildJob({
        contactId: '1',
        patch: { email: 'ada@secret.example', customField: { plan: 'pro' } },
      });
      const records = [
        buildSqsRecord({ body: JSON.stringify(good), groupId: '1' }),
        buildSqsRecord({ body: '{"not":"a job"}', groupId: 'x' }),
      ];
      sandbox.script({ method: 'PATCH', status: 503 });
      const second = buildSqsRecord({ body: JSON.stringify(buildJob({ contactId: '1' })), groupId: '1' });
      response = await handler(
        { Records: [records[0], records[1], second].filter((r) => r !== undefined) },
        createLambdaContext({ functionName: 'apply-patches', timeoutMs: 4_000 }),
      );
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    // The first record gets the scripted 503 and is handed back; its group's second record is held back.
    expect(response.batchItemFailures).toHaveLength(2);
    const logs = writes.join('');
    expect(logs).toContain('"outcome":"dead-letter"');
    expect(logs).toContain('invalid-job');
    expect(logs).not.toContain('ada@secret.example');
    expect(logs).not.toContain(sandbox.apiKey);
  });

  it('keeps DEADLINE_SAFETY_MS of the remaining time back: with less left, nothing is sent', async () => {
    sandbox.seed([{ id: 2 }]);
    const before = sandbox.requests().length;
    const record = buildSqsRecord({ body: JSON.stringify(buildJob({ contactId: '2' })), groupId: '2' });
    // 900 ms left and a 1,000 ms safety margin (beforeAll): the deadline has already passed.
    const response = await handler(
      { Records: [record] },
      createLambdaContext({ functionName: 'apply-patches', timeoutMs: 900 }),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    expect(sandbox.requests().length).toBe(before);
    // With time to spare the same record is applied.
    const applied = await handler(
      { Records: [record] },
      createLambdaContext({ functionName: 'apply-patches', timeoutMs: 4_000 }),
    );
    expect(applied.batchItemFailures).toEqual([]);
    expect(sandbox.requests().length).toBeGreaterThan(before);
  });

  it('retries a 503 within CLEARTALK_MAX_ATTEMPTS and reports each retry as a log line and a metric', async () => {
    // A second cold start of the handler with two attempts per call.
    process.env.CLEARTALK_MAX_ATTEMPTS = '2';
    vi.resetModules();
    const { handler: twoAttempts } = await import('../../../handlers/apply-patches.js');
    sandbox.seed([{ id: 3 }]);
    const writes: string[] = [];
    const spies = [process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
        writes.push(String(chunk));
        return true;
      }),
    );
    let response: SQSBatchResponse;
    try {
      sandbox.script({ method: 'PATCH', path: '/contacts/3', status: 503 });
      const job = buildJob({ contactId: '3', patch: { lastName: 'Lovelace' } });
      response = await twoAttempts(
        { Records: [buildSqsRecord({ body: JSON.stringify(job), groupId: '3' })] },
        createLambdaContext({ functionName: 'apply-patches', timeoutMs: 4_000 }),
      );
    } finally {
      for (const spy of spies) spy.mockRestore();
      process.env.CLEARTALK_MAX_ATTEMPTS = '1';
    }
    expect(response.batchItemFailures).toEqual([]);
    const patches = sandbox.requests().filter((r) => r.method === 'PATCH' && r.path === '/contacts/3');
    expect(patches.map((r) => r.status)).toEqual([503, 200]);
    const lines = writes
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'));
    const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const retryLog = parsed.find((line) => line.message === 'ClearTalk retry');
    expect(retryLog).toMatchObject({ attempt: 1, status: 503 });
    // The EMF document of the invocation carries the retry count.
    expect(parsed.some((line) => '_aws' in line && line.clearTalkRetries === 1)).toBe(true);
    const logs = lines.join('\n');
    expect(logs).not.toContain('Lovelace');
    expect(logs).not.toContain(sandbox.apiKey);
  });
});
