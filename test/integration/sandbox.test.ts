import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ContactSchema } from '../../lib/cleartalk/schemas.js';
import { type Sandbox, startSandbox } from '../../tools/sandbox/server.js';

const KEY = 'sandbox-test-key';
let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, apiKey: KEY, quiet: true });
});
afterAll(() => sandbox.stop());
beforeEach(() => {
  sandbox.reset();
  sandbox.seed([{ id: 10, firstName: 'Ada', customField: { plan: 'free', seats: 2 } }]);
});

interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
}

async function call(
  method: string,
  path: string,
  options: { body?: unknown; key?: string | null; idem?: string } = {},
) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.key !== null) headers['x-api-key'] = options.key ?? KEY;
  if (options.idem !== undefined) headers['idempotency-key'] = options.idem;
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) {
    init.body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  const response = await fetch(`${sandbox.url}${path}`, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: response.status, headers: response.headers, body } satisfies Reply;
}

describe('sandbox contacts API', () => {
  it('returns the whole contact with all ten fields, null when unset', async () => {
    const reply = await call('GET', '/contacts/10');
    expect(reply.status).toBe(200);
    const contact = ContactSchema.parse(reply.body);
    expect(contact).toMatchObject({
      id: 10,
      firstName: 'Ada',
      lastName: null,
      tag: null,
      clearTalkNotes: null,
    });
    expect(Object.keys(reply.body as object)).toHaveLength(14);
  });

  it('patches the fields present and updates updatedAt', async () => {
    const before = sandbox.contact(10);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const reply = await call('PATCH', '/contacts/10', {
      body: { lastName: 'Lovelace', email: 'ada@example.com' },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' });
    expect(sandbox.contact(10)?.updatedAt).not.toBe(before?.updatedAt);
    expect(sandbox.contact(10)?.createdAt).toBe(before?.createdAt);
  });

  it('replaces customField whole on PATCH instead of merging it', async () => {
    const reply = await call('PATCH', '/contacts/10', { body: { customField: { source: 'shopify' } } });
    expect(reply.status).toBe(200);
    expect(sandbox.contact(10)?.customField).toEqual({ source: 'shopify' });
  });

  it('creates a contact with POST /contacts and answers 201 with the next numeric id', async () => {
    const reply = await call('POST', '/contacts', { body: { email: 'new@example.com' } });
    expect(reply.status).toBe(201);
    expect(ContactSchema.parse(reply.body)).toMatchObject({
      id: 11,
      email: 'new@example.com',
      firstName: null,
    });
    expect(sandbox.contacts().map((c) => c.id)).toEqual([10, 11]);
  });

  it('answers 401 without the key or with a wrong key, and accepts a rotated key', async () => {
    expect((await call('GET', '/contacts/10', { key: null })).status).toBe(401);
    expect((await call('GET', '/contacts/10', { key: 'nope' })).status).toBe(401);
    sandbox.setApiKey('rotated');
    expect((await call('GET', '/contacts/10')).status).toBe(401);
    expect((await call('GET', '/contacts/10', { key: 'rotated' })).status).toBe(200);
  });

  it('answers 404 for an unknown or non-numeric id and an unknown route', async () => {
    expect((await call('GET', '/contacts/999')).status).toBe(404);
    expect((await call('PATCH', '/contacts/999', { body: { tag: 'x' } })).status).toBe(404);
    expect((await call('GET', '/contacts/abc')).status).toBe(404);
    expect((await call('GET', '/lists')).status).toBe(404);
  });

  it('answers 400 for a body that is not JSON or not a valid patch, and changes nothing', async () => {
    for (const body of [
      '{oops',
      { nickname: 'x' },
      {},
      { phone: 5551234 },
      { customField: { a: { b: 1 } } },
    ]) {
      const reply = await call('PATCH', '/contacts/10', { body });
      expect(reply.status).toBe(400);
    }
    expect((await call('POST', '/contacts', { body: {} })).status).toBe(400);
    expect(sandbox.contact(10)?.customField).toEqual({ plan: 'free', seats: 2 });
    expect(sandbox.contacts()).toHaveLength(1);
  });

  it('answers 405 for a method the route does not have', async () => {
    expect((await call('DELETE', '/contacts/10')).status).toBe(405);
    expect((await call('GET', '/contacts')).status).toBe(405);
  });
});

describe('sandbox Idempotency-Key', () => {
  it('replays the first answer for the same key and body without applying again', async () => {
    const first = await call('PATCH', '/contacts/10', { body: { tag: 'a' }, idem: 'job-1' });
    sandbox.seed([{ id: 10, tag: 'changed-elsewhere' }]);
    const second = await call('PATCH', '/contacts/10', { body: { tag: 'a' }, idem: 'job-1' });
    expect(second.status).toBe(200);
    expect(second.body).toEqual(first.body);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(sandbox.contact(10)?.tag).toBe('changed-elsewhere');
    expect(sandbox.requests().map((r) => r.fault)).toEqual([undefined, 'replay']);
  });

  it('replays the first answer as it was, not the contact as a later PATCH left it', async () => {
    const first = await call('PATCH', '/contacts/10', { body: { tag: 'a' }, idem: 'job-snap' });
    await call('PATCH', '/contacts/10', { body: { tag: 'b', lastName: 'Later' }, idem: 'job-other' });
    const replay = await call('PATCH', '/contacts/10', { body: { tag: 'a' }, idem: 'job-snap' });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);
    expect(replay.body).toMatchObject({ tag: 'a', lastName: null });
  });

  it('treats the same JSON with another key order as the same body', async () => {
    await call('POST', '/contacts', { body: '{"firstName":"A","lastName":"B"}', idem: 'create-1' });
    const again = await call('POST', '/contacts', {
      body: '{ "lastName": "B", "firstName": "A" }',
      idem: 'create-1',
    });
    expect(again.status).toBe(201);
    expect(sandbox.contacts()).toHaveLength(2);
  });

  it('answers 422 when a key is reused with a different body or path', async () => {
    await call('PATCH', '/contacts/10', { body: { tag: 'a' }, idem: 'job-2' });
    expect((await call('PATCH', '/contacts/10', { body: { tag: 'b' }, idem: 'job-2' })).status).toBe(422);
    expect((await call('POST', '/contacts', { body: { tag: 'a' }, idem: 'job-2' })).status).toBe(422);
    expect(sandbox.contact(10)?.tag).toBe('a');
  });

  it('does not remember failed requests, so a retry after a 404 or fault is processed anew', async () => {
    expect((await call('PATCH', '/contacts/11', { body: { tag: 'x' }, idem: 'job-3' })).status).toBe(404);
    sandbox.seed([{ id: 11 }]);
    expect((await call('PATCH', '/contacts/11', { body: { tag: 'x' }, idem: 'job-3' })).status).toBe(200);
    sandbox.script({ status: 503 });
    expect((await call('PATCH', '/contacts/10', { body: { tag: 'y' }, idem: 'job-4' })).status).toBe(503);
    expect((await call('PATCH', '/contacts/10', { body: { tag: 'y' }, idem: 'job-4' })).status).toBe(200);
    expect(sandbox.contact(10)?.tag).toBe('y');
  });
});

describe('sandbox faults', () => {
  it('consumes scripted faults in order, by method and path, before random ones', async () => {
    sandbox.setFaults({ rate500: 1 });
    sandbox.script(
      { method: 'PATCH', path: /^\/contacts\/\d+$/, status: 503, times: 2 },
      { path: '/contacts/10', status: 429, retryAfter: '3' },
    );
    const statuses: number[] = [];
    const retryAfter: Array<string | null> = [];
    for (let i = 0; i < 4; i += 1) {
      const reply = await call('PATCH', '/contacts/10', { body: { tag: 't' } });
      statuses.push(reply.status);
      retryAfter.push(reply.headers.get('retry-after'));
    }
    expect(statuses).toEqual([503, 503, 429, 500]);
    expect(retryAfter[2]).toBe('3');
    expect(sandbox.requests().map((r) => r.fault)).toEqual([
      'script:503',
      'script:503',
      'script:429',
      'random:500',
    ]);
    expect(sandbox.contact(10)?.tag).toBeNull();
  });

  it('injects seeded random 429s with Retry-After in the configured share, the same on every run', async () => {
    const run = async () => {
      sandbox.reset();
      sandbox.seed([{ id: 10 }]);
      sandbox.setFaults({ rate429: 0.3, rate503: 0.2, retryAfterSeconds: 2, seed: 42 });
      const statuses: number[] = [];
      for (let i = 0; i < 200; i += 1) statuses.push((await call('GET', '/contacts/10')).status);
      return statuses;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    const count = (status: number) => first.filter((s) => s === status).length;
    expect(count(429)).toBeGreaterThan(35);
    expect(count(429)).toBeLessThan(85);
    expect(count(503)).toBeGreaterThan(20);
    expect(count(503)).toBeLessThan(65);
    expect(count(200)).toBe(200 - count(429) - count(503));
    sandbox.setFaults({ rate429: 1, retryAfterSeconds: 2 });
    expect((await call('GET', '/contacts/10')).headers.get('retry-after')).toBe('2');
  });

  it('rejects fault shares that add up to more than 1', () => {
    expect(() => sandbox.setFaults({ rate429: 0.6, rate500: 0.6 })).toThrow(/more than 1/);
  });

  it('resets the connection without answering and without applying the change', async () => {
    sandbox.script({ reset: true });
    await expect(call('PATCH', '/contacts/10', { body: { tag: 'lost' } })).rejects.toThrow();
    expect(sandbox.contact(10)?.tag).toBeNull();
    expect(sandbox.requests()[0]).toMatchObject({ status: 0, fault: 'script:reset' });
  });

  it('answers a slow request late, having applied the change already', async () => {
    sandbox.setFaults({ rateSlow: 1, slowMs: 1_000 });
    const started = Date.now();
    let answered = false;
    const pending = call('PATCH', '/contacts/10', { body: { tag: 'slow' } }).finally(() => {
      answered = true;
    });
    await waitFor(() => sandbox.requests().length === 1);
    expect(sandbox.contact(10)?.tag).toBe('slow');
    expect(answered).toBe(false);
    const reply = await pending;
    expect(reply.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(sandbox.requests()[0]?.fault).toBe('random:slow');
  });

  it('answers a slow request with the contact as that request left it', async () => {
    sandbox.script({ method: 'PATCH', delayMs: 300 });
    const slow = call('PATCH', '/contacts/10', { body: { tag: 'first' } });
    await waitFor(() => sandbox.requests().length === 1);
    expect((await call('PATCH', '/contacts/10', { body: { tag: 'second' } })).status).toBe(200);
    expect((await slow).body).toMatchObject({ tag: 'first' });
  });

  it('serves a scripted malformed body as is', async () => {
    sandbox.script({ status: 200, body: '{"id": 1,' });
    const reply = await call('GET', '/contacts/10');
    expect([reply.status, reply.body]).toEqual([200, '{"id": 1,']);
  });
});

describe('sandbox control API over HTTP', () => {
  it('seeds, scripts, sets faults, rotates the key, dumps state and resets', async () => {
    expect(
      (await call('POST', '/__sandbox/seed', { key: null, body: [{ id: 20, email: 'x@example.com' }] }))
        .status,
    ).toBe(200);
    expect(sandbox.contact(20)?.email).toBe('x@example.com');

    await call('POST', '/__sandbox/script', {
      key: null,
      body: [{ method: 'GET', pathRegex: '^/contacts/2', status: 502 }],
    });
    expect((await call('GET', '/contacts/20')).status).toBe(502);
    expect((await call('GET', '/contacts/20')).status).toBe(200);

    await call('POST', '/__sandbox/faults', { key: null, body: { rate503: 1 } });
    expect((await call('GET', '/contacts/20')).status).toBe(503);
    expect((await call('POST', '/__sandbox/faults', { key: null, body: { rate503: 2 } })).status).toBe(400);
    await call('POST', '/__sandbox/faults', { key: null, body: {} });

    await call('POST', '/__sandbox/api-key', { key: null, body: { apiKey: 'k2' } });
    expect((await call('GET', '/contacts/20')).status).toBe(401);
    expect((await call('GET', '/contacts/20', { key: 'k2' })).status).toBe(200);

    const contacts = await call('GET', '/__sandbox/contacts', { key: null });
    expect((contacts.body as Array<{ id: number }>).map((c) => c.id)).toEqual([10, 20]);
    const log = await call('GET', '/__sandbox/requests', { key: null });
    expect((log.body as Array<{ status: number }>).map((r) => r.status)).toEqual([502, 200, 503, 401, 200]);

    await call('POST', '/__sandbox/reset', { key: null });
    expect(sandbox.contacts()).toEqual([]);
    expect(sandbox.requests()).toEqual([]);
    expect(sandbox.apiKey).toBe(KEY);
  });

  it('is never faulted and needs no key', async () => {
    sandbox.setFaults({ rateReset: 1 });
    sandbox.script({ status: 500, times: 5 });
    expect((await call('GET', '/__sandbox/contacts', { key: null })).status).toBe(200);
  });
});

describe('sandbox start options', () => {
  it('seeds from a JSON file and keeps the request log bounded', async () => {
    const file = join(tmpdir(), `sandbox-seed-${randomUUID()}.json`);
    await writeFile(file, JSON.stringify({ contacts: [{ id: 3, firstName: 'Seed' }, { id: 8 }] }));
    const other = await startSandbox({ port: 0, quiet: true, seedFile: file, maxLoggedRequests: 10 });
    try {
      expect(other.apiKey).toBe('sandbox-key');
      expect(other.contacts().map((c) => [c.id, c.firstName])).toEqual([
        [3, 'Seed'],
        [8, null],
      ]);
      for (let i = 0; i < 40; i += 1) {
        await fetch(`${other.url}/contacts/3?i=${i}`, { headers: { 'x-api-key': 'sandbox-key' } }).then((r) =>
          r.text(),
        );
      }
      const log = other.requests();
      expect(log.length).toBeGreaterThanOrEqual(10);
      expect(log.length).toBeLessThanOrEqual(13);
      expect(other.contacts()).toHaveLength(2);
      other.reset();
      expect(other.contacts()).toHaveLength(2);
      const created = await fetch(`${other.url}/contacts`, {
        method: 'POST',
        headers: { 'x-api-key': 'sandbox-key' },
        body: '{"tag":"t"}',
      }).then((r) => r.json());
      expect(created).toMatchObject({ id: 9 });
    } finally {
      await other.stop();
    }
  });

  it('stops while a slow answer is pending', async () => {
    const other = await startSandbox({ port: 0, quiet: true, faults: { rateSlow: 1, slowMs: 60_000 } });
    const pending = new Promise<string>((resolve) => {
      const req = httpRequest(`${other.url}/contacts/1`, { headers: { 'x-api-key': 'sandbox-key' } }, () =>
        resolve('answered'),
      );
      req.on('error', () => resolve('closed'));
      req.end();
    });
    await waitFor(() => other.requests().length === 1);
    await other.stop();
    expect(await pending).toBe('closed');
  });
});

/** Polls a condition every 5 ms (up to 5 s) instead of guessing a fixed wait. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 5_000) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
