import { describe, expect, it } from 'vitest';
import {
  formatRequestHead,
  type HttpResponse,
  MAX_BODY_BYTES,
  MAX_HEAD_BYTES,
  ResponseReader,
} from '../../../lib/cleartalk/http1.js';

const head = (overrides: Partial<Parameters<typeof formatRequestHead>[0]> = {}) =>
  formatRequestHead({
    method: 'PATCH',
    path: '/v1/contacts/1',
    host: 'api.example.com',
    headers: { 'x-api-key': 'k', 'Idempotency-Key': 'job-1' },
    contentLength: 12,
    ...overrides,
  });

/** Feeds `parts` in order; the response once complete (and nothing after it), else undefined. */
function read(parts: ReadonlyArray<string | Buffer>, options: { close?: boolean } = {}) {
  const reader = new ResponseReader();
  let response: HttpResponse | undefined;
  for (const part of parts) {
    expect(response).toBeUndefined();
    response = reader.feed(typeof part === 'string' ? Buffer.from(part) : part);
  }
  if (options.close) {
    expect(response).toBeUndefined();
    response = reader.close();
  }
  return response;
}

const text = (response: HttpResponse | undefined) => response?.body.toString('utf8');

describe('formatRequestHead', () => {
  it('writes the request line, Host, keep-alive, the headers and the Content-Length', () => {
    expect(head()).toBe(
      'PATCH /v1/contacts/1 HTTP/1.1\r\nHost: api.example.com\r\nConnection: keep-alive\r\n' +
        'x-api-key: k\r\nIdempotency-Key: job-1\r\nContent-Length: 12\r\n\r\n',
    );
    expect(head({ method: 'GET', contentLength: undefined })).not.toContain('Content-Length');
  });

  it('refuses a header value with a line break and names the header, not the value', () => {
    for (const value of ['k\r\nX-Evil: 1', 'k\n', 'k\0', 'ké']) {
      let thrown: unknown;
      try {
        head({ headers: { 'x-api-key': value } });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ code: 'ERR_INVALID_CHAR' });
      expect(String((thrown as Error).message)).toContain('x-api-key');
      expect(String((thrown as Error).message)).not.toContain(value);
    }
  });

  it('refuses a header name, method or path that would break the request line or the framing', () => {
    expect(() => head({ headers: { 'bad name': 'v' } })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_HTTP_TOKEN' }),
    );
    expect(() => head({ method: 'PATCH /x' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_HTTP_TOKEN' }),
    );
    for (const path of ['/contacts/1 HTTP/1.1', '/a\r\nb', 'contacts/1', '/é']) {
      expect(() => head({ path })).toThrow(expect.objectContaining({ code: 'ERR_UNESCAPED_CHARACTERS' }));
    }
  });
});

describe('ResponseReader', () => {
  const contact = '{"id":1,"firstName":"Zoë"}';
  const byLength = `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(contact)}\r\n\r\n`;

  it('reads a Content-Length response in one piece or split at every byte', () => {
    const whole = Buffer.concat([Buffer.from(byLength), Buffer.from(contact)]);
    expect(read([whole])).toMatchObject({ status: 200, reusable: true, retryAfter: undefined });
    expect(text(read([whole]))).toBe(contact);
    for (let cut = 1; cut < whole.length; cut += 1) {
      expect(text(read([whole.subarray(0, cut), whole.subarray(cut)]))).toBe(contact);
    }
    // One byte at a time, the worst a slow server can do.
    expect(text(read([...whole].map((byte) => Buffer.from([byte]))))).toBe(contact);
  });

  it('reads a chunked response with extensions and trailers, split at every byte', () => {
    const whole = Buffer.from(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5;name=value\r\n{"id"\r\nA\r\n:1,"tag":"\r\n3 \r\nvip\r\n2\r\n"}\r\n0\r\nX-Trailer: t\r\n\r\n',
      'latin1',
    );
    expect(text(read([whole]))).toBe('{"id":1,"tag":"vip"}');
    for (let cut = 1; cut < whole.length; cut += 1) {
      expect(text(read([whole.subarray(0, cut), whole.subarray(cut)]))).toBe('{"id":1,"tag":"vip"}');
    }
    expect(read([whole])?.reusable).toBe(true);
  });

  it('passes the Keep-Alive timeout on in ms, when the server gives one', () => {
    const hinted = read(['HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n']);
    expect(hinted?.keepAliveMs).toBe(5_000);
    expect(
      read(['HTTP/1.1 200 OK\r\nKeep-Alive: max=100\r\nContent-Length: 0\r\n\r\n'])?.keepAliveMs,
    ).toBeUndefined();
    expect(read(['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'])?.keepAliveMs).toBeUndefined();
  });

  it('passes Retry-After and Content-Encoding on, whatever their case', () => {
    const response = read([
      'HTTP/1.1 503 Service Unavailable\r\nretry-after: 7\r\nCONTENT-ENCODING: gzip\r\nContent-Length: 0\r\n\r\n',
    ]);
    expect(response).toMatchObject({ status: 503, retryAfter: '7', contentEncoding: 'gzip' });
  });

  it('skips interim 1xx answers and reads the real one', () => {
    const response = read([
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n',
      byLength,
      contact,
    ]);
    expect(response?.status).toBe(200);
    expect(text(response)).toBe(contact);
  });

  it('reads no body for 204 and 304 even with a Content-Length', () => {
    expect(read(['HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n'])).toMatchObject({
      status: 204,
      reusable: true,
    });
    expect(read(['HTTP/1.1 304 Not Modified\r\n\r\n'])?.body.length).toBe(0);
  });

  it('reads to the end of the connection when nothing frames the body, and does not reuse it', () => {
    const response = read(['HTTP/1.1 200 OK\r\n\r\n{"id"', ':1}'], { close: true });
    expect(response).toMatchObject({ status: 200, reusable: false });
    expect(text(response)).toBe('{"id":1}');
    // Transfer-Encoding without chunked last: the close frames it too (RFC 9112 §6.3).
    expect(
      text(
        read(['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabcdef'], {
          close: true,
        }),
      ),
    ).toBe('abcdef');
  });

  it('reports a response cut short by the close as incomplete', () => {
    const reader = new ResponseReader();
    expect(reader.feed(Buffer.from(`${byLength}{"id"`))).toBeUndefined();
    expect(reader.started).toBe(true);
    expect(reader.close()).toBeUndefined();
    const silent = new ResponseReader();
    expect(silent.started).toBe(false);
    expect(silent.close()).toBeUndefined();
  });

  it('does not reuse a connection the server closes: Connection: close, or HTTP/1.0 without keep-alive', () => {
    expect(read(['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}'])?.reusable).toBe(
      false,
    );
    expect(
      read(['HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\nContent-Length: 2\r\n\r\n{}'])?.reusable,
    ).toBe(false);
    expect(read(['HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}'])?.reusable).toBe(false);
    expect(read(['HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}'])?.reusable).toBe(
      true,
    );
  });

  it('accepts a repeated Content-Length that agrees and refuses one that does not', () => {
    expect(text(read(['HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\nContent-Length: 2\r\n\r\n{}']))).toBe('{}');
    expect(() => read(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}'])).toThrow(
      /Content-Length values differ/,
    );
  });

  it.each([
    ['a status line that is not HTTP/1.x', 'HTTP/2 200\r\n\r\n'],
    ['a status that is not three digits', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['garbage', 'hello\r\n\r\n'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\n{}'],
    ['a space before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\n{}'],
    ['a folded header line', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 2\r\n\r\n{}'],
    ['a Content-Length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['a chunk size that is not hexadecimal', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['a chunk without its CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx'],
    ['a protocol switch nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n'],
  ])('refuses %s as an invalid response', (_what, response) => {
    expect(() => read([response])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_HTTP_RESPONSE' }));
  });

  it('skips empty lines before a response and after its body, as node:http did (RFC 9112 §2.2)', () => {
    expect(text(read(['\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}']))).toBe('{}');
    const trailing = read(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}\r\n']);
    expect(trailing).toMatchObject({ status: 200, reusable: true });
    expect(text(trailing)).toBe('{}');
    expect(
      text(read(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n\r\n'])),
    ).toBe('{}');
  });

  it('does not reuse a connection whose framing is in doubt: Transfer-Encoding with Content-Length, or in HTTP/1.0', () => {
    const both = read([
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
    ]);
    expect(both).toMatchObject({ status: 200, reusable: false });
    expect(text(both)).toBe('{}');
    const old = read([
      'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
    ]);
    expect(old).toMatchObject({ status: 200, reusable: false });
  });

  it('lets Connection: close win over a keep-alive on another Connection line', () => {
    const response = read([
      'HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n{}',
    ]);
    expect(response?.reusable).toBe(false);
  });

  it.each([
    ['the status line', ['HTTP/1.1 200 OK\n']],
    ['a header line', ['HTTP/1.1 200 OK\r\nContent-Length: 2\n']],
    ['the header section', ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\n']],
    ['a chunk size line', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '0\n']],
    ['the trailer section', ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '0\r\n\n']],
  ])('refuses a bare LF ending %s at once, not after a wait for a CRLF that never comes', (_what, parts) => {
    const reader = new ResponseReader();
    const invalidResponse = expect.objectContaining({ code: 'ERR_INVALID_HTTP_RESPONSE' });
    expect(() => {
      for (const part of parts) reader.feed(Buffer.from(part));
    }).toThrow(invalidResponse);
  });

  it('reads no body in the answer to a HEAD request, whatever its Content-Length', () => {
    const reader = new ResponseReader(true);
    expect(reader.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 120\r\n\r\n'))).toMatchObject({
      status: 200,
      reusable: true,
    });
  });

  it('reads a chunk size padded with zeros', () => {
    expect(
      text(read(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000002\r\n{}\r\n0\r\n\r\n'])),
    ).toBe('{}');
  });

  it('reports a declared length of any size over the limit as too large, as the node:http transport did', () => {
    expect(() => read(['HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n'])).toThrow(
      expect.objectContaining({ code: 'ERR_RESPONSE_TOO_LARGE' }),
    );
  });

  it('delivers a complete response followed by bytes nobody asked for, and does not reuse the connection', () => {
    const response = read(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}HTTP/1.1 200 OK\r\n']);
    expect(response).toMatchObject({ status: 200, reusable: false });
    expect(text(response)).toBe('{}');
    // Only CR and LF after it: tolerated, the connection stays usable.
    expect(read(['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}\r\n'])?.reusable).toBe(true);
  });

  it('refuses bytes fed after a complete response', () => {
    const reader = new ResponseReader();
    expect(reader.feed(Buffer.from('HTTP/1.1 204 No Content\r\n\r\n'))).toBeDefined();
    expect(() => reader.feed(Buffer.from('x'))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_HTTP_RESPONSE' }),
    );
  });

  it('refuses a head over the limit before its end arrives, and a body over 1 MiB declared, chunked or unframed', () => {
    const reader = new ResponseReader();
    expect(reader.feed(Buffer.from('HTTP/1.1 200 OK\r\n'))).toBeUndefined();
    expect(() => reader.feed(Buffer.from(`X-Big: ${'a'.repeat(MAX_HEAD_BYTES)}`))).toThrow(
      /head is too large/,
    );
    const tooLarge = expect.objectContaining({ code: 'ERR_RESPONSE_TOO_LARGE' });
    expect(() => read([`HTTP/1.1 200 OK\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`])).toThrow(
      tooLarge,
    );
    const half = Buffer.alloc(MAX_BODY_BYTES / 2 + 1, 'a');
    const size = half.length.toString(16);
    expect(() =>
      read([
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
        `${size}\r\n`,
        half,
        `\r\n${size}\r\n`,
        half,
      ]),
    ).toThrow(tooLarge);
    expect(() => read(['HTTP/1.1 200 OK\r\n\r\n', half, half])).toThrow(tooLarge);
  });
});
