import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  type AddressInfo,
  createServer as createTcpServer,
  connect as netConnect,
  type Socket,
} from 'node:net';
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

const servers: Array<{ close(callback: () => void): unknown; closeAllConnections?: () => void }> = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) {
    server.closeAllConnections?.();
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

/**
 * A TCP server that answers each request with `answer(requestNumber)` written as raw bytes, for
 * answers `node:http` would not send. `close` ends the connection after the answer.
 */
async function startRawServer(answer: (n: number) => { bytes: string; close?: boolean }) {
  let count = 0;
  const ports: number[] = [];
  const server = createTcpServer((socket) => {
    sockets.push(socket);
    ports.push(socket.remotePort ?? 0);
    let seen = '';
    socket.on('data', (data: Buffer) => {
      seen += data.toString('latin1');
      // Requests here carry no body: each head ends with an empty line.
      while (seen.includes('\r\n\r\n')) {
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        count += 1;
        const { bytes, close } = answer(count);
        if (close) socket.end(bytes);
        else socket.write(bytes);
      }
    });
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ports };
}

const GET = { method: 'GET', path: '/contacts/1', headers: {}, body: undefined, timeoutMs: 2_000 };

/** A ClearTalk client on `url` with instant sleeps, and the reasons of the retries it made. */
function recordingClient(url: string) {
  const reasons: string[] = [];
  const client = createClearTalkClient({
    baseUrl: url,
    getApiKey: async () => 'k',
    sleep: async () => {},
    onRetry: (info) => reasons.push(info.reason),
  });
  return { client, reasons };
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

  it('does not take a reused connection broken in the middle of an answer for a stale one', async () => {
    let calls = 0;
    const server = await startServer((res) => {
      calls += 1;
      if (calls === 1) {
        res.end('{}');
        return;
      }
      // The second request, on the same keep-alive connection, reached the server.
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"id":');
      setTimeout(() => res.destroy(), 20);
    });
    const transport = createHttpTransport(server.url);
    expect(await transport.send(GET)).toMatchObject({ ok: true });
    const outcome = await transport.send(GET);
    expect(new Set(server.seen.map((s) => s.remotePort)).size).toBe(1);
    // Not marked reused: the client retries it as a failed attempt, not at once as a stale socket.
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
    const { client, reasons } = recordingClient(server.url);
    expect((await client.getContact('1')).id).toBe(1);
    expect(reasons).toEqual(['ECONNRESET']);
  });

  it('reuses an idle connection for 4 s, or until a second before the Keep-Alive timeout the server gives', async () => {
    let hint: string | undefined;
    const server = await startServer((res) => {
      // A Connection header of our own keeps node:http from adding its `Keep-Alive: timeout=5`.
      if (hint === undefined) res.setHeader('connection', 'keep-alive');
      else res.setHeader('keep-alive', hint);
      res.end('{}');
    });
    let time = Date.UTC(2026, 10, 27);
    const transport = createHttpTransport(server.url, { now: () => time });
    const port = async (advanceMs: number) => {
      time += advanceMs;
      expect(await transport.send(GET)).toMatchObject({ ok: true, status: 200 });
      return server.seen.at(-1)?.remotePort;
    };
    // No hint: reused within 4 s of the last answer, a new connection after (as after a thaw).
    const first = await port(0);
    expect(await port(3_999)).toBe(first);
    const second = await port(4_000);
    expect(second).not.toBe(first);
    // timeout=30: reused 28 s later; timeout=1: not reused at all.
    hint = 'timeout=30, max=1000';
    expect(await port(0)).toBe(second);
    expect(await port(28_999)).toBe(second);
    hint = 'timeout=1';
    const third = await port(29_000);
    const fourth = await port(0);
    expect(new Set([second, third, fourth]).size).toBe(3);
  });

  it('closes expired idle connections below the one it reuses', async () => {
    const server = await startRawServer(() => ({ bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}' }));
    let time = Date.UTC(2026, 10, 27);
    const transport = createHttpTransport(server.url, { now: () => time });
    // Two connections, idle from the same moment.
    expect((await Promise.all([transport.send(GET), transport.send(GET)])).every((o) => o.ok)).toBe(true);
    expect(server.ports).toHaveLength(2);
    // 3 s later one of them carries a request, which renews its 4 s; the other expires at 4 s.
    time += 3_000;
    expect((await transport.send(GET)).ok).toBe(true);
    time += 2_000;
    expect((await transport.send(GET)).ok).toBe(true);
    expect(server.ports).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The expired one was closed by the transport, not left for the server to close.
    expect(sockets.map((socket) => socket.readableEnded || socket.destroyed)).toEqual(
      expect.arrayContaining([true, false]),
    );
  });

  it('reads a chunked answer', async () => {
    const server = await startServer((res) => {
      res.write('{"id":');
      setTimeout(() => res.end('1}'), 10);
    });
    expect(await send(server.url)).toMatchObject({ ok: true, status: 200, body: '{"id":1}' });
  });

  it('opens a new connection after Connection: close and after the server closed an idle one', async () => {
    let closing = true;
    const server = await startServer((res) => {
      if (closing) res.setHeader('connection', 'close');
      res.end('{}');
    });
    const transport = createHttpTransport(server.url);
    expect((await transport.send(GET)).ok).toBe(true);
    expect((await transport.send(GET)).ok).toBe(true);
    closing = false;
    expect((await transport.send(GET)).ok).toBe(true);
    // The server drops the idle keep-alive connection; the transport must notice, not fail.
    const idleSocket = server.seen.length;
    for (const s of servers) s.closeAllConnections?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await transport.send(GET)).toMatchObject({ ok: true, status: 200 });
    const ports = server.seen.map((s) => s.remotePort);
    expect(new Set(ports).size).toBe(4);
    expect(idleSocket).toBe(3);
  });

  it('skips an interim 100 answer and reads an HTTP/1.0 body framed by the close', async () => {
    const server = await startRawServer(() => ({
      bytes: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"id":1}',
      close: true,
    }));
    const transport = createHttpTransport(server.url);
    expect(await transport.send(GET)).toEqual({
      ok: true,
      status: 200,
      retryAfter: undefined,
      body: '{"id":1}',
    });
    expect(await transport.send(GET)).toMatchObject({ ok: true, body: '{"id":1}' });
    expect(server.ports).toHaveLength(2);
  });

  it('fails a malformed answer as an invalid response that the client does not retry', async () => {
    const server = await startRawServer(() => ({ bytes: 'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}' }));
    expect(await send(server.url)).toMatchObject({ ok: false, error: { code: 'ERR_INVALID_HTTP_RESPONSE' } });
    const { client, reasons: retries } = recordingClient(server.url);
    await expect(client.getContact('1')).rejects.toMatchObject({ code: 'request-failed', retryable: false });
    expect(retries).toEqual([]);
  });

  it('drops an idle connection that receives bytes nobody asked for', async () => {
    const server = await startRawServer((n) => ({
      // The first answer carries a second, unasked-for one behind it.
      bytes:
        n === 1
          ? 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}'
          : 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n{"id":2}',
    }));
    const transport = createHttpTransport(server.url);
    expect(await transport.send(GET)).toMatchObject({ ok: true, body: '{}' });
    for (const socket of sockets) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await transport.send(GET)).toMatchObject({ ok: true, body: '{"id":2}' });
    expect(server.ports).toHaveLength(2);
  });

  it('marks a failure as on a reused socket exactly when the connection had already carried an answer', async () => {
    // Each request is answered or has its connection cut, in turn, as a server closing idle ones.
    const plan = ['cut', 'answer', 'cut', 'answer'];
    const server = createTcpServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.on('data', () => {
        if (plan.shift() === 'cut') socket.destroy();
        else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}');
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const transport = createHttpTransport(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const reset = (reusedSocket: boolean) => ({ ok: false, error: { code: 'ECONNRESET', reusedSocket } });
    expect(await transport.send(GET)).toMatchObject(reset(false));
    expect(await transport.send(GET)).toMatchObject({ ok: true, body: '{}' });
    expect(await transport.send(GET)).toMatchObject(reset(true));
    expect(await transport.send(GET)).toMatchObject({ ok: true, body: '{}' });
  });

  it('sends the stale-socket retry on a new connection when every idle one died together', async () => {
    // As after a Lambda thaw: the server forgot all idle connections without the client
    // hearing of it, and resets each one when a request arrives on it.
    let dead = false;
    const server = createTcpServer((socket) => {
      sockets.push(socket);
      const born = dead;
      socket.on('error', () => {});
      socket.on('data', () => {
        if (dead && !born) socket.destroy();
        else
          socket.write(
            'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"id":1}',
          );
      });
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const transport = createHttpTransport(url);
    const outcomes = await Promise.all([transport.send(GET), transport.send(GET), transport.send(GET)]);
    expect(outcomes.every((outcome) => outcome.ok)).toBe(true);
    dead = true;
    expect(await transport.send(GET)).toMatchObject({
      ok: false,
      error: { code: 'ECONNRESET', reusedSocket: true },
    });
    // The retry the client makes at once must not meet another of the dead connections.
    expect(await transport.send(GET)).toMatchObject({ ok: true, body: '{"id":1}' });
  });

  it('answers a HEAD request without waiting for a body that never comes', async () => {
    const server = await startServer((res) =>
      // node:http sends a HEAD answer's Content-Length but never its body.
      res.req.method === 'HEAD' ? res.writeHead(200, { 'content-length': '120' }).end() : res.end('{}'),
    );
    const transport = createHttpTransport(server.url);
    const head = { ...GET, method: 'HEAD', timeoutMs: 500 };
    expect(await transport.send(head)).toEqual({ ok: true, status: 200, retryAfter: undefined, body: '' });
    expect(await transport.send(GET)).toMatchObject({ ok: true, status: 200 });
    expect(new Set(server.seen.map((s) => s.remotePort)).size).toBe(1);
  });

  it('does not reuse a connection after an answer framed by both Transfer-Encoding and Content-Length', async () => {
    const server = await startRawServer(() => ({
      // A smuggling sign: a hop that framed this by the Content-Length would leave "0\r\n\r\n" behind.
      bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
    }));
    const transport = createHttpTransport(server.url);
    expect(await transport.send(GET)).toMatchObject({ ok: true, body: '{}' });
    expect(await transport.send(GET)).toMatchObject({ ok: true, body: '{}' });
    expect(server.ports).toHaveLength(2);
  });

  it('gives the client its contact when the answer ends with a stray empty line, as node:http did', async () => {
    const stamp = new Date().toISOString();
    const contact = JSON.stringify(buildContact({ createdAt: stamp, updatedAt: stamp }));
    const server = await startRawServer(() => ({
      bytes: `\r\nHTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(contact)}\r\n\r\n${contact}\r\n`,
    }));
    const { client } = recordingClient(server.url);
    expect((await client.getContact('1')).id).toBe(1);
    expect((await client.getContact('1')).id).toBe(1);
  });

  it('fails an answer with bare LF line ends at once as an invalid response, not at the timeout', async () => {
    const server = await startRawServer(() => ({ bytes: 'HTTP/1.1 200 OK\nContent-Length: 2\n\n{}' }));
    const started = Date.now();
    const outcome = await createHttpTransport(server.url).send({ ...GET, timeoutMs: 500 });
    expect(outcome).toMatchObject({ ok: false, error: { code: 'ERR_INVALID_HTTP_RESPONSE' } });
    expect(Date.now() - started).toBeLessThan(400);
  });

  it('refuses a header value that would inject a header, before anything is sent', async () => {
    const server = await startServer((res) => res.end('{}'));
    const outcome = await createHttpTransport(server.url).send({
      ...GET,
      headers: { 'x-api-key': 'secret-key\r\nX-Injected: 1' },
    });
    expect(outcome).toMatchObject({ ok: false, error: { code: 'ERR_INVALID_CHAR' } });
    if (!outcome.ok) expect(outcome.error.message).not.toContain('secret-key');
    expect(server.seen).toHaveLength(0);
  });

  it('speaks HTTPS with SNI and ALPN, resumes the TLS session on a new connection, and refuses a certificate nobody trusts', async () => {
    const key = readFileSync(new URL('../../fixtures/tls/localhost.key', import.meta.url));
    const cert = readFileSync(new URL('../../fixtures/tls/localhost.crt', import.meta.url));
    const names: Array<string | false | null> = [];
    const resumed: boolean[] = [];
    const server = createHttpsServer({ key, cert, ALPNProtocols: ['http/1.1'] }, (req, res) => {
      const tlsSocket = req.socket as import('node:tls').TLSSocket;
      names.push((tlsSocket as { servername?: string | false }).servername ?? false, tlsSocket.alpnProtocol);
      resumed.push(tlsSocket.isSessionReused());
      // Each answer closes its connection, so the next request needs a new one.
      res.setHeader('connection', 'close');
      res.end('{"id":1}');
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://localhost:${(server.address() as AddressInfo).port}`;
    const untrusted = await createHttpTransport(url).send(GET);
    expect(untrusted).toMatchObject({ ok: false, error: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
    // Trusting the test certificate the only way the transport allows: the process-wide switch.
    const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    try {
      const transport = createHttpTransport(url);
      for (let i = 0; i < 2; i += 1) {
        expect(await transport.send(GET)).toMatchObject({ ok: true, status: 200, body: '{"id":1}' });
      }
    } finally {
      if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
    }
    expect(names).toEqual(['localhost', 'http/1.1', 'localhost', 'http/1.1']);
    expect(resumed).toEqual([false, true]);
  });

  it('drops the cached TLS session after a failed connection, so a server that cannot resume it does not fail every later one', async () => {
    // As a TLS front whose resumption broke (ticket keys, EMS): it resets every connection that
    // offers a session, and completes those that do not.
    const key = readFileSync(new URL('../../fixtures/tls/localhost.key', import.meta.url));
    const cert = readFileSync(new URL('../../fixtures/tls/localhost.crt', import.meta.url));
    const backend = createHttpsServer({ key, cert }, (_req, res) => {
      res.setHeader('connection', 'close');
      res.end('{"id":1}');
    });
    servers.push(backend);
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    let refused = 0;
    const front = createTcpServer((client) => {
      sockets.push(client);
      client.on('error', () => {});
      let hello = Buffer.alloc(0);
      const onData = (data: Buffer) => {
        hello = Buffer.concat([hello, data]);
        if (hello.length < 5 || hello.length < 5 + hello.readUInt16BE(3)) return;
        client.off('data', onData);
        if (offersSession(hello)) {
          refused += 1;
          client.resetAndDestroy();
          return;
        }
        const upstream = netConnect((backend.address() as AddressInfo).port, '127.0.0.1');
        sockets.push(upstream);
        upstream.on('error', () => {});
        upstream.write(hello);
        client.pipe(upstream).pipe(client);
      };
      client.on('data', onData);
    });
    servers.push(front);
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    const before = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    const outcomes: TransportOutcome[] = [];
    try {
      const transport = createHttpTransport(`https://localhost:${(front.address() as AddressInfo).port}`);
      for (let i = 0; i < 3; i += 1) outcomes.push(await transport.send(GET));
    } finally {
      if (before === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
      else process.env.NODE_TLS_REJECT_UNAUTHORIZED = before;
    }
    // A full handshake; the session offered and refused; a full handshake again.
    expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, false, true]);
    expect(refused).toBe(1);
  });

  it('leaves no idle connection and no request timer keeping a process alive', async () => {
    // A server that never closes an idle connection (node:http's would after 5 s).
    const server = await startRawServer(() => ({
      bytes: 'HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n{"id":1}',
    }));
    const script = `
      import { createHttpTransport } from './lib/cleartalk/transport.ts';
      // A request timeout longer than the wait below: a timer left running would hold the process.
      const outcome = await createHttpTransport(process.argv[1]).send(${JSON.stringify({ ...GET, timeoutMs: 60_000 })});
      process.stdout.write(String(outcome.ok));`;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script, server.url],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect({ code, out }).toEqual({ code: 0, out: 'true' });
  });
});

/** Whether a TLS ClientHello record offers a session to resume (TLS 1.3 pre_shared_key, TLS 1.2 ticket). */
function offersSession(hello: Buffer): boolean {
  // Record header 5, handshake header 4, version 2, random 32, then the session id.
  let at = 5 + 4 + 2 + 32;
  at += 1 + (hello[at] ?? 0);
  at += 2 + hello.readUInt16BE(at); // cipher suites
  at += 1 + (hello[at] ?? 0); // compression methods
  const end = at + 2 + hello.readUInt16BE(at);
  for (at += 2; at + 4 <= end; at += 4 + hello.readUInt16BE(at + 2)) {
    const type = hello.readUInt16BE(at);
    if (type === 41 || (type === 35 && hello.readUInt16BE(at + 2) > 0)) return true;
  }
  return false;
}
