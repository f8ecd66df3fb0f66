import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createClearTalkClient } from '../../../lib/cleartalk/client.js';
import { createHttpTransport, type TransportOutcome } from '../../../lib/cleartalk/transport.js';
import { ConfigError } from '../../../lib/errors.js';
import { buildContact } from '../../helpers/contact.js';

interface Seen {
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  remotePort: number | undefined;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A local stand-in server; `answer` runs once the request body has arrived. */
async function startServer(answer: (res: ServerResponse, seen: Seen) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      const entry = { url: req.url ?? '', headers: req.headers, body, remotePort: req.socket.remotePort };
      seen.push(entry);
      answer(res, entry);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const send = (baseUrl: string, body?: string): Promise<TransportOutcome> =>
  createHttpTransport(baseUrl).send({
    method: body === undefined ? 'GET' : 'PATCH',
    path: '/contacts/1',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body,
    timeoutMs: 2_000,
  });

describe('ClearTalk HTTP transport', () => {
  it('keeps the base URL path and sends the body with a Content-Length, not chunked', async () => {
    const server = await startServer((res) => res.end('{"ok":true}'));
    const outcome = await send(`${server.url}/api/v1/`, '{"tag":"é"}');
    expect(outcome).toEqual({ ok: true, status: 200, retryAfter: undefined, body: '{"ok":true}' });
    expect(server.seen[0]).toMatchObject({ url: '/api/v1/contacts/1', body: '{"tag":"é"}' });
    expect(server.seen[0]?.headers['content-length']).toBe('12');
    expect(server.seen[0]?.headers['transfer-encoding']).toBeUndefined();
    expect(server.seen[0]?.headers.host).toBe(new URL(server.url).host);
  });

  it('answers every status as a response and passes Retry-After on', async () => {
    const server = await startServer((res) => res.writeHead(503, { 'retry-after': '7' }).end('busy'));
    expect(await send(server.url)).toEqual({ ok: true, status: 503, retryAfter: '7', body: 'busy' });
  });

  it('reuses one keep-alive socket for consecutive requests', async () => {
    const server = await startServer((res) => res.end('{}'));
    const transport = createHttpTransport(server.url);
    const call = { method: 'GET', path: '/contacts/1', headers: {}, body: undefined, timeoutMs: 2_000 };
    for (let i = 0; i < 3; i += 1) expect((await transport.send(call)).ok).toBe(true);
    expect(new Set(server.seen.map((s) => s.remotePort)).size).toBe(1);
    expect(server.seen[0]?.headers.connection).toBe('keep-alive');
  });

  it('decodes a gzip answer a server sends although none was asked for', async () => {
    const server = await startServer((res) =>
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync('{"id":1}')),
    );
    expect(await send(server.url)).toMatchObject({ ok: true, body: '{"id":1}' });
    expect(server.seen[0]?.headers['accept-encoding']).toBeUndefined();
  });

  it('refuses a body over 1 MiB, declared or streamed', async () => {
    const big = 'x'.repeat(1024 * 1024 + 1);
    const declared = await startServer((res) => res.end(big));
    const streamed = await startServer((res) => {
      res.write(big.slice(0, 1024 * 1024));
      res.end(big.slice(1024 * 1024));
    });
    for (const url of [declared.url, streamed.url]) {
      const outcome = await send(url);
      expect(outcome).toMatchObject({ ok: false, error: { code: 'ERR_RESPONSE_TOO_LARGE' } });
    }
  });

  it('reports a connection broken in the middle of the body as ECONNRESET', async () => {
    const server = await startServer((res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"id":');
      setTimeout(() => res.destroy(), 20);
    });
    const outcome = await send(server.url);
    expect(outcome).toMatchObject({ ok: false, error: { code: 'ECONNRESET', reusedSocket: false } });
  });

  it('reports a refused connection with its Node code', async () => {
    const outcome = await send('http://127.0.0.1:9');
    expect(outcome).toMatchObject({
      ok: false,
      error: { name: 'ClearTalkTransportError', code: 'ECONNREFUSED' },
    });
  });

  it('refuses a base URL that is not http(s) when the client is created', () => {
    expect(() => createHttpTransport('ftp://example.com')).toThrow(ConfigError);
    expect(() => createHttpTransport('not a url')).toThrow(ConfigError);
    expect(() => createClearTalkClient({ baseUrl: 'file:///etc', getApiKey: async () => 'k' })).toThrow(
      ConfigError,
    );
  });

  it('lets the client retry a body cut off mid-way like any reset', async () => {
    let calls = 0;
    const server = await startServer((res) => {
      calls += 1;
      if (calls === 1) {
        res.writeHead(200, { 'content-length': '100' });
        res.write('{"id":');
        setTimeout(() => res.destroy(), 20);
        return;
      }
      const stamp = new Date().toISOString();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(buildContact({ createdAt: stamp, updatedAt: stamp })));
    });
    const reasons: string[] = [];
    const client = createClearTalkClient({
      baseUrl: server.url,
      getApiKey: async () => 'k',
      sleep: async () => {},
      onRetry: (info) => reasons.push(info.reason),
    });
    expect((await client.getContact('1')).id).toBe(1);
    expect(reasons).toEqual(['ECONNRESET']);
  });
});
