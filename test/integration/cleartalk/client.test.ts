import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type ClearTalkClientOptions,
  createClearTalkClient,
  type RetryInfo,
} from '../../../lib/cleartalk/client.js';
import {
  ClearTalkAuthError,
  ClearTalkInvalidResponseError,
  ClearTalkPermanentError,
  ClearTalkRetryableError,
} from '../../../lib/cleartalk/errors.js';
import packageJson from '../../../package.json' with { type: 'json' };
import { type Sandbox, startSandbox } from '../../../tools/sandbox/server.js';
import { buildContact } from '../../helpers/contact.js';

const API_KEY = 'ct-live-SUPERSECRET-9f8e7d';

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, apiKey: API_KEY, quiet: true });
});
afterAll(() => sandbox.stop());
beforeEach(() => {
  sandbox.reset();
  sandbox.seed([{ id: 1, firstName: 'Old', customField: { plan: 'free' } }]);
});

/** A client on the sandbox with a recorded, instant sleep; random 0 makes the backoff 0 unless a test says otherwise. */
function createTestClient(overrides: Partial<ClearTalkClientOptions> = {}) {
  const sleeps: number[] = [];
  const retries: RetryInfo[] = [];
  const keyRequests: boolean[] = [];
  const client = createClearTalkClient({
    baseUrl: sandbox.url,
    getApiKey: async ({ forceRefresh }) => {
      keyRequests.push(forceRefresh);
      return API_KEY;
    },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0,
    onRetry: (info) => retries.push(info),
    ...overrides,
  });
  return { client, sleeps, retries, keyRequests };
}

const apiRequests = () => sandbox.requests().filter((r) => !r.path.startsWith('/__sandbox'));

describe('ClearTalk client against the sandbox', () => {
  it('updates a contact and returns the whole contact', async () => {
    const { client, sleeps } = createTestClient();
    const contact = await client.updateContact('1', { lastName: 'Lovelace' }, { idempotencyKey: 'job-1' });
    expect(contact).toMatchObject({ id: 1, firstName: 'Old', lastName: 'Lovelace', email: null });
    expect(sandbox.contact(1)?.lastName).toBe('Lovelace');
    expect(sleeps).toEqual([]);
  });

  it('reads and creates contacts', async () => {
    const { client } = createTestClient();
    expect((await client.getContact('1')).customField).toEqual({ plan: 'free' });
    const created = await client.createContact({ email: 'new@example.com' });
    expect(created.id).toBe(2);
    expect(sandbox.contact(2)?.email).toBe('new@example.com');
    // A POST without a caller's key still carries one, so its own retries cannot duplicate.
    expect(apiRequests().at(-1)?.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('retries a 503 and then succeeds', async () => {
    sandbox.script({ method: 'PATCH', status: 503 });
    const { client, sleeps, retries } = createTestClient();
    const contact = await client.updateContact('1', { tag: 'vip' }, { idempotencyKey: 'job-503' });
    expect(contact.tag).toBe('vip');
    expect(apiRequests().map((r) => r.status)).toEqual([503, 200]);
    expect(sleeps).toHaveLength(1);
    expect(retries).toEqual([{ attempt: 1, delayMs: 0, reason: 'http-503', status: 503 }]);
  });

  it('honours Retry-After in seconds', async () => {
    sandbox.script({ status: 429, retryAfter: '7' });
    const { client, sleeps } = createTestClient();
    await client.updateContact('1', { tag: 'a' }, { idempotencyKey: 'job-429' });
    expect(sleeps).toEqual([7_000]);
  });

  it('honours Retry-After as an HTTP date on the injected clock', async () => {
    const now = Date.parse('2026-11-27T10:00:00Z');
    sandbox.script({ status: 429, retryAfter: new Date(now + 3_000).toUTCString() });
    const { client, sleeps } = createTestClient({ now: () => now });
    await client.updateContact('1', { tag: 'a' }, { idempotencyKey: 'job-429-date' });
    expect(sleeps).toEqual([3_000]);
  });

  it('treats Retry-After as a floor under the backoff and caps it at maxRetryAfterMs', async () => {
    sandbox.script({ status: 429, retryAfter: '1' }, { status: 503, retryAfter: '3600' });
    const { client, sleeps } = createTestClient({ random: () => 0.999, baseDelayMs: 4_000 });
    await client.updateContact('1', { tag: 'a' }, { idempotencyKey: 'job-floor' });
    // Attempt 1: backoff up to 4 s beats Retry-After 1 s; attempt 2: an hour is capped at 60 s.
    expect(sleeps).toEqual([3_996, 60_000]);
  });

  it('retries a timed-out attempt; the slow first attempt was applied, the retry is replayed', async () => {
    sandbox.script({ method: 'PATCH', delayMs: 3_000 });
    // 500 ms leaves the replayed retry room on a busy machine.
    const { client, retries } = createTestClient({ timeoutMs: 500 });
    const contact = await client.updateContact('1', { tag: 'slow' }, { idempotencyKey: 'job-timeout' });
    expect(contact.tag).toBe('slow');
    expect(retries.map((r) => r.reason)).toEqual(['timeout']);
    expect(apiRequests().map((r) => r.fault)).toEqual(['script:delay', 'replay']);
  });

  it('retries a connection reset on a fresh socket with backoff', async () => {
    sandbox.script({ method: 'PATCH', reset: true });
    const { client, sleeps, retries } = createTestClient();
    await client.updateContact('1', { tag: 'r' }, { idempotencyKey: 'job-reset' });
    expect(retries.map((r) => r.reason)).toEqual(['ECONNRESET']);
    expect(sleeps).toHaveLength(1);
    expect(apiRequests().map((r) => r.status)).toEqual([0, 200]);
    expect(sandbox.contact(1)?.tag).toBe('r');
  });

  it('retries a reset on a reused keep-alive socket once at once, then backs off', async () => {
    const { client, sleeps, retries } = createTestClient();
    await client.getContact('1'); // leaves a pooled keep-alive socket
    sandbox.script({ method: 'PATCH', reset: true, times: 2 });
    await client.updateContact('1', { tag: 's' }, { idempotencyKey: 'job-stale' });
    expect(retries.map((r) => [r.reason, r.delayMs])).toEqual([
      ['stale-socket', 0],
      ['ECONNRESET', 0],
    ]);
    // Only the second reset (on a fresh socket) went through the backoff path.
    expect(sleeps).toHaveLength(1);
  });

  it('fetches the key again after a 401 and succeeds with the rotated key', async () => {
    let current = 'old-key';
    sandbox.setApiKey('new-key');
    const keyRequests: boolean[] = [];
    const { client, sleeps } = createTestClient({
      getApiKey: async ({ forceRefresh }) => {
        keyRequests.push(forceRefresh);
        if (forceRefresh) current = 'new-key';
        return current;
      },
    });
    const contact = await client.updateContact('1', { tag: 'k' }, { idempotencyKey: 'job-401' });
    expect(contact.tag).toBe('k');
    expect(keyRequests).toEqual([false, true]);
    expect(apiRequests().map((r) => r.status)).toEqual([401, 200]);
    expect(sleeps).toEqual([]);
  });

  it('raises a retryable auth error when the refreshed key is refused too', async () => {
    sandbox.setApiKey('someone-else');
    const { client, keyRequests } = createTestClient();
    const error = await client
      .updateContact('1', { tag: 'k' }, { idempotencyKey: 'job-401x' })
      .catch((e) => e);
    expect(error).toBeInstanceOf(ClearTalkAuthError);
    expect(error).toMatchObject({ code: 'auth', retryable: true, status: 401 });
    expect(keyRequests).toEqual([false, true]);
    expect(apiRequests()).toHaveLength(2);
  });

  it('treats a 403 like a 401', async () => {
    sandbox.script({ status: 403 }, { status: 403 });
    const { client, keyRequests } = createTestClient();
    await expect(client.getContact('1')).rejects.toMatchObject({ code: 'auth', status: 403 });
    // One forced key refresh between the two 403s, as for a 401.
    expect(keyRequests).toEqual([false, true]);
    expect(apiRequests().map((r) => r.status)).toEqual([403, 403]);
  });

  it('succeeds after a 403 with the key fetched again', async () => {
    sandbox.script({ status: 403 });
    const { client, keyRequests, sleeps } = createTestClient();
    expect((await client.getContact('1')).id).toBe(1);
    expect(keyRequests).toEqual([false, true]);
    expect(apiRequests().map((r) => r.status)).toEqual([403, 200]);
    expect(sleeps).toEqual([]);
  });

  it('raises an invalid-response error for a 200 with a malformed body, without retrying', async () => {
    sandbox.script({ status: 200, body: '{"id": 1, "firstName": "Ada"' });
    const { client } = createTestClient();
    const error = await client
      .updateContact('1', { tag: 'm' }, { idempotencyKey: 'job-malformed' })
      .catch((e) => e);
    expect(error).toBeInstanceOf(ClearTalkInvalidResponseError);
    expect(error).toMatchObject({ code: 'invalid-response', retryable: false, status: 200 });
    expect(apiRequests()).toHaveLength(1);
  });

  it('raises an invalid-response error for a 200 whose JSON is not a contact, naming fields not values', async () => {
    sandbox.script({ status: 200, body: { id: 'one', email: 'leak@example.com' } });
    const { client } = createTestClient();
    const error = await client.getContact('1').catch((e) => e);
    expect(error).toBeInstanceOf(ClearTalkInvalidResponseError);
    expect(error.issues).toContain('id: Invalid input: expected number, received string');
    expect(error.message).not.toContain('leak@example.com');
  });

  it('raises a permanent contact-not-found error for a 404 without retrying', async () => {
    const { client, sleeps } = createTestClient();
    const error = await client
      .updateContact('999', { tag: 'x' }, { idempotencyKey: 'job-404' })
      .catch((e) => e);
    expect(error).toBeInstanceOf(ClearTalkPermanentError);
    expect(error).toMatchObject({ code: 'contact-not-found', retryable: false, status: 404 });
    expect(apiRequests()).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it.each([400, 409, 410, 422, 418])('raises a permanent rejected error for %i', async (status) => {
    sandbox.script({ status, body: { error: 'invalid_email', message: 'bad@example.com is not valid' } });
    const { client } = createTestClient();
    const error = await client
      .updateContact('1', { email: 'bad@example.com' }, { idempotencyKey: 'j' })
      .catch((e) => e);
    expect(error).toMatchObject({ code: 'rejected', retryable: false, status });
    // The short machine reason is kept; the echoed value is not.
    expect(error.message).toContain('invalid_email');
    expect(error.message).not.toContain('bad@example.com');
    expect(apiRequests()).toHaveLength(1);
  });

  it('sends the same Idempotency-Key on every attempt', async () => {
    sandbox.script(
      { method: 'PATCH', status: 503, times: 2 },
      { method: 'PATCH', status: 429, retryAfter: '0' },
    );
    const { client } = createTestClient();
    await client.updateContact('1', { tag: 'i' }, { idempotencyKey: 'typeform:abc:token-1' });
    const sent = apiRequests();
    expect(sent.map((r) => r.status)).toEqual([503, 503, 429, 200]);
    expect(new Set(sent.map((r) => r.idempotencyKey))).toEqual(new Set(['typeform:abc:token-1']));
    expect(new Set(sent.map((r) => JSON.stringify(r.body)))).toEqual(new Set(['{"tag":"i"}']));
  });

  it('stops at the attempt limit with retries-exhausted and grows the backoff', async () => {
    sandbox.script({ status: 503, times: 10 });
    const { client, sleeps } = createTestClient({ maxAttempts: 3, random: () => 0.5 });
    const error = await client
      .updateContact('1', { tag: 'x' }, { idempotencyKey: 'job-limit' })
      .catch((e) => e);
    expect(error).toBeInstanceOf(ClearTalkRetryableError);
    expect(error).toMatchObject({ code: 'retries-exhausted', retryable: true, status: 503 });
    expect(error.cause).toMatchObject({ status: 503 });
    expect(apiRequests()).toHaveLength(3);
    expect(sleeps).toEqual([125, 250]);
  });

  it('reports each failed attempt with its path, not answers or refusals', async () => {
    sandbox.script({ status: 503 }, { status: 429, retryAfter: '0' }, { status: 404 });
    const failed: string[] = [];
    const { client } = createTestClient({ onFailedAttempt: ({ path }) => failed.push(path) });
    const error = await client.updateContact('1', { tag: 'x' }, { idempotencyKey: 'j' }).catch((e) => e);
    expect(error).toBeInstanceOf(ClearTalkPermanentError);
    await client.getContact('1');
    expect(apiRequests().map((r) => r.status)).toEqual([503, 429, 404, 200]);
    expect(failed).toEqual(['/contacts/1', '/contacts/1']);
  });

  it('stops retrying with circuit-open when the retry gate closes, before or after the wait', async () => {
    sandbox.script({ status: 503, times: 10 });
    let open = true;
    const { client, sleeps } = createTestClient({ maxAttempts: 6, retryGate: () => !open });
    const first = await client.updateContact('1', { tag: 'x' }, { idempotencyKey: 'j1' }).catch((e) => e);
    expect(first).toBeInstanceOf(ClearTalkRetryableError);
    expect(first).toMatchObject({ code: 'circuit-open', retryable: true, status: 503 });
    expect(apiRequests()).toHaveLength(1);
    expect(sleeps).toEqual([]);

    // The gate closes during the wait: no second request.
    open = false;
    const { client: second, sleeps: waits } = createTestClient({
      maxAttempts: 6,
      retryGate: () => !open,
      sleep: async (ms) => {
        waits.push(ms);
        open = true;
      },
    });
    const error = await second.updateContact('1', { tag: 'x' }, { idempotencyKey: 'j2' }).catch((e) => e);
    expect(error).toMatchObject({ code: 'circuit-open' });
    expect(apiRequests()).toHaveLength(2);
    expect(waits).toHaveLength(1);
  });

  it('never sleeps past the deadline and stops with deadline-exceeded', async () => {
    let clock = 1_000_000;
    sandbox.script({ status: 503, retryAfter: '2', times: 10 });
    const { client, sleeps } = createTestClient({
      now: () => clock,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
    });
    const deadlineMs = clock + 5_000;
    const error = await client
      .updateContact('1', { tag: 'd' }, { idempotencyKey: 'job-deadline', deadlineMs })
      .catch((e) => e);
    expect(error).toBeInstanceOf(ClearTalkRetryableError);
    expect(error).toMatchObject({ code: 'deadline-exceeded', retryable: true, status: 503 });
    // 2 s at t=0 and t=2 s fit; the third wait would end at 6 s, past the 5 s deadline.
    expect(sleeps).toEqual([2_000, 2_000]);
    expect(clock).toBeLessThanOrEqual(deadlineMs);
    expect(apiRequests()).toHaveLength(3);
  });

  it('makes no request when the deadline has already passed', async () => {
    const { client, keyRequests } = createTestClient();
    const error = await client
      .updateContact('1', { tag: 'd' }, { idempotencyKey: 'job-late', deadlineMs: Date.now() - 1 })
      .catch((e) => e);
    expect(error).toMatchObject({ code: 'deadline-exceeded', retryable: true });
    expect(apiRequests()).toHaveLength(0);
    expect(keyRequests).toEqual([false]);
  });

  it('cuts an attempt short so it ends by the deadline, not after the full timeout', async () => {
    sandbox.script({ method: 'PATCH', delayMs: 5_000 });
    const { client } = createTestClient({ timeoutMs: 10_000, now: Date.now });
    const started = Date.now();
    const error = await client
      .updateContact('1', { tag: 'd' }, { idempotencyKey: 'job-cut', deadlineMs: started + 300 })
      .catch((e) => e);
    expect(error).toMatchObject({ code: 'deadline-exceeded', retryable: true });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('ends an attempt at the timeout even when the server keeps trickling the body', async () => {
    const timers: NodeJS.Timeout[] = [];
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{');
      // One byte every 50 ms: a socket idle timer alone would never fire.
      timers.push(setInterval(() => res.write(' '), 50));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { client } = createTestClient({
        baseUrl: `http://127.0.0.1:${port}`,
        timeoutMs: 300,
        maxAttempts: 1,
      });
      const started = Date.now();
      const error = await client.getContact('1').catch((e) => e);
      expect(error).toMatchObject({ code: 'retries-exhausted', retryable: true });
      expect(rootCause(error)).toMatchObject({ code: 'ETIMEDOUT' });
      expect(Date.now() - started).toBeLessThan(1_500);
    } finally {
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('connects to ClearTalk directly even when proxy variables are set', async () => {
    let proxied = 0;
    const proxy = createServer((req, res) => {
      proxied += 1;
      req.resume();
      res.writeHead(502).end();
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const names = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'] as const;
    const saved = names.map((name) => process.env[name]);
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      for (const name of names) process.env[name] = proxyUrl;
      const { client } = createTestClient();
      expect((await client.getContact('1')).id).toBe(1);
      // Documented choice: the worker has direct egress; a proxy would need CONNECT tunnelling.
      expect(proxied).toBe(0);
      expect(apiRequests()).toHaveLength(1);
    } finally {
      names.forEach((name, i) => {
        const value = saved[i];
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      });
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('sends the documented headers', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(sandboxContactLike()));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { client } = createTestClient({ baseUrl: `http://127.0.0.1:${port}` });
      await client.updateContact('1', { tag: 'h' }, { idempotencyKey: 'job-h' });
      expect(seen[0]).toMatchObject({
        'x-api-key': API_KEY,
        'idempotency-key': 'job-h',
        'user-agent': `cleartalk-contact-sync/${packageJson.version}`,
        'content-type': 'application/json',
        connection: 'keep-alive',
      });
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('ClearTalk client errors never leak the API key or contact values', () => {
  async function collectErrors(): Promise<unknown[]> {
    const errors: unknown[] = [];
    // A timeout (the attempt's request, headers and all, is destroyed by the client) …
    sandbox.script({ delayMs: 1_000 });
    const slow = createTestClient({ timeoutMs: 100, maxAttempts: 1 });
    errors.push(
      await slow.client
        .updateContact('1', { email: 'ada@example.com' }, { idempotencyKey: 'a' })
        .catch((e) => e),
    );
    // … a refused connection …
    const refused = createTestClient({ baseUrl: 'http://127.0.0.1:9', maxAttempts: 2 });
    errors.push(
      await refused.client
        .updateContact('1', { phone: '+15551234567' }, { idempotencyKey: 'b' })
        .catch((e) => e),
    );
    // … a reset, an auth failure and a rejection echoing the body.
    sandbox.script({ reset: true });
    errors.push(
      await createTestClient({ maxAttempts: 1 })
        .client.getContact('1')
        .catch((e) => e),
    );
    sandbox.script({ status: 401 }, { status: 401 });
    errors.push(
      await createTestClient()
        .client.getContact('1')
        .catch((e) => e),
    );
    sandbox.script({ status: 422, body: { message: `ada@example.com rejected for key ${API_KEY}` } });
    errors.push(
      await createTestClient()
        .client.updateContact('1', { email: 'ada@example.com' }, { idempotencyKey: 'c' })
        .catch((e) => e),
    );
    return errors;
  }

  it('keeps the key and values out of String, JSON and inspect of the error and its causes', async () => {
    const errors = await collectErrors();
    expect(errors).toHaveLength(5);
    for (const error of errors) {
      expect(error).toBeInstanceOf(Error);
      const renderings = [
        String(error),
        JSON.stringify(error),
        inspect(error, { depth: Number.POSITIVE_INFINITY }),
      ];
      for (let cause = (error as Error).cause; cause !== undefined; cause = (cause as Error).cause) {
        renderings.push(
          String(cause),
          JSON.stringify(cause),
          inspect(cause, { depth: Number.POSITIVE_INFINITY }),
        );
      }
      for (const text of renderings) {
        expect(text).not.toContain(API_KEY);
        expect(text).not.toContain('ada@example.com');
        expect(text).not.toContain('+15551234567');
      }
    }
    // The timeout and the reset keep a transport cause with its code at the root of the chain.
    expect(rootCause(errors[0])).toMatchObject({ name: 'ClearTalkTransportError', code: 'ETIMEDOUT' });
    expect(rootCause(errors[2])).toMatchObject({ name: 'ClearTalkTransportError', code: 'ECONNRESET' });
  });

  it('would catch a key carried by a request object in a cause (the check above can fail)', async () => {
    // What an HTTP library's error typically holds (axios' did): the request, headers included.
    sandbox.script({ delayMs: 1_000 });
    const leaky = await new Promise<Error>((resolve) => {
      const req = request(`${sandbox.url}/contacts/1`, { headers: { 'x-api-key': API_KEY }, timeout: 100 });
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { request: req })));
      req.on('error', resolve);
      req.end();
    });
    expect(inspect(leaky, { depth: Number.POSITIVE_INFINITY })).toContain(API_KEY);
  });
});

function rootCause(error: unknown): unknown {
  let current = error;
  while (current instanceof Error && current.cause !== undefined) current = current.cause;
  return current;
}

function sandboxContactLike() {
  const stamp = new Date().toISOString();
  return buildContact({ tag: 'h', createdAt: stamp, updatedAt: stamp });
}
