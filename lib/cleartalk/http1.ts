/**
 * HTTP/1.1 message framing for the ClearTalk transport (RFC 9112), pure: a request head as
 * text, and a response reader fed the bytes of one connection as they arrive. No sockets, no
 * timers, so every split of a response across reads can be tested.
 *
 * Why not `node:http`: its request and response objects (streams, events, header maps) made a
 * raw `node:http` PATCH loop cost ~1.5-2x the CPU of our whole client on this framing
 * (docs/benchmarks.md, bench:client and bench:worker); this does what the client needs and no
 * more. Not done, on purpose: pipelining (one request at a time per connection), upgrades,
 * request trailers.
 */

/** Codes of the failures thrown here; the transport turns them into ClearTalkTransportError codes. */
export type HttpFailureCode =
  | 'ERR_INVALID_HTTP_RESPONSE'
  | 'ERR_RESPONSE_TOO_LARGE'
  | 'ERR_INVALID_CHAR'
  | 'ERR_INVALID_HTTP_TOKEN'
  | 'ERR_UNESCAPED_CHARACTERS';

/**
 * A failure with a Node-style `code` (the codes `node:http` used for the same faults). A plain
 * Error, not a class of the error tree: it never leaves the transport, which keeps only its
 * message and code.
 */
function httpFailure(message: string, code: HttpFailureCode): Error & { code: HttpFailureCode } {
  return Object.assign(new Error(message), { code });
}

/** A request's start line and headers; `Host` and `Content-Length` are added here. */
export interface RequestHead {
  method: string;
  /** The request target, already joined to the base path, e.g. `/v1/contacts/1`. */
  path: string;
  host: string;
  headers: Readonly<Record<string, string>>;
  /** Byte length of the body, or `undefined` for none. */
  contentLength: number | undefined;
}

// RFC 9110 §5.1 token; values: visible ASCII, space and tab only (no obs-text: nothing we send
// needs it, and a CR or LF would let a value inject a header or a second request).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;
const REQUEST_TARGET = /^\/[\x21-\x7e]*$/;

/**
 * The request line and header section, ending with the empty line.
 * @throws {Error} with code `ERR_INVALID_CHAR`, `ERR_INVALID_HTTP_TOKEN` or
 *   `ERR_UNESCAPED_CHARACTERS` for a method, path, header name or value that could break the
 *   framing (the message names the header, never its value)
 */
export function formatRequestHead(head: RequestHead): string {
  if (!TOKEN.test(head.method)) throw httpFailure('invalid HTTP method', 'ERR_INVALID_HTTP_TOKEN');
  if (!REQUEST_TARGET.test(head.path)) {
    throw httpFailure('the request path contains unescaped characters', 'ERR_UNESCAPED_CHARACTERS');
  }
  let text = `${head.method} ${head.path} HTTP/1.1\r\nHost: ${head.host}\r\nConnection: keep-alive\r\n`;
  for (const name in head.headers) {
    const value = head.headers[name] as string;
    if (!TOKEN.test(name)) throw httpFailure('invalid header name', 'ERR_INVALID_HTTP_TOKEN');
    if (!FIELD_VALUE.test(value)) {
      throw httpFailure(`invalid character in header content ["${name}"]`, 'ERR_INVALID_CHAR');
    }
    text += `${name}: ${value}\r\n`;
  }
  if (head.contentLength !== undefined) text += `Content-Length: ${head.contentLength}\r\n`;
  return `${text}\r\n`;
}

/** A complete response. */
export interface HttpResponse {
  status: number;
  /** The `Retry-After` header, when present. */
  retryAfter: string | undefined;
  /** The `Content-Encoding` header, when present. */
  contentEncoding: string | undefined;
  body: Buffer;
  /** Whether the connection can carry the next request (not `Connection: close`, not HTTP/1.0, framed). */
  reusable: boolean;
  /** How long the server keeps the idle connection open, from `Keep-Alive: timeout=<s>`, when it says. */
  keepAliveMs: number | undefined;
}

// A contact is well under 1 MiB; anything bigger is not an answer we can use.
export const MAX_BODY_BYTES = 1024 * 1024;
// Node's own default limit for a response's header section.
export const MAX_HEAD_BYTES = 16 * 1024;
const MAX_CHUNK_LINE_BYTES = 4 * 1024;
const EMPTY = Buffer.alloc(0);

type Phase =
  | 'head'
  | 'length'
  | 'chunk-size'
  | 'chunk-data'
  | 'chunk-end'
  | 'trailers'
  | 'until-close'
  | 'done';

/**
 * Reads one response from the bytes of a connection, fed as they arrive. Interim (1xx)
 * responses are skipped. Body framing follows RFC 9112 §6.3: no body for a HEAD request, 204
 * and 304, chunked when chunked is the last transfer coding, else `Content-Length`, else until
 * the connection closes. Lines end with CRLF: a bare LF is refused at once (as `node:http` does),
 * not waited past.
 */
export class ResponseReader {
  private phase: Phase = 'head';
  private pending: Buffer = EMPTY;
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private remaining = 0;
  private status = 0;
  private retryAfter: string | undefined;
  private contentEncoding: string | undefined;
  private keepAlive = true;
  private keepAliveMs: number | undefined;
  /** Whether any byte of the response has arrived (a reused socket that closes before one did was stale). */
  started = false;

  /** @param headRequest the request was HEAD: the answer has no body, whatever its headers say */
  constructor(private readonly headRequest = false) {}

  /**
   * Takes the next bytes; returns the response once it is complete.
   * @throws {Error} with code `ERR_INVALID_HTTP_RESPONSE` when the bytes are not a valid
   *   response, `ERR_RESPONSE_TOO_LARGE` when it is too large
   */
  feed(data: Buffer): HttpResponse | undefined {
    if (data.length === 0) return undefined;
    this.started = true;
    if (this.phase === 'done') throw invalid('data after the response (pipelining is not used)');
    const buf = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    this.pending = EMPTY;
    let at = 0;
    while (at < buf.length) {
      switch (this.phase) {
        case 'head': {
          // Empty lines before a response are skipped (RFC 9112 §2.2): some servers end a body
          // with an extra CRLF, which node:http (llhttp) accepted too.
          while (at < buf.length && (buf[at] === 13 || buf[at] === 10)) at += 1;
          if (at === buf.length) break;
          const end = buf.indexOf('\r\n\r\n', at, 'latin1');
          if (end < 0) {
            if (buf.length - at > MAX_HEAD_BYTES) throw invalid('the response head is too large');
            // A head with a bare LF never gets its CRLF CRLF: refuse it now, not at the timeout.
            for (let line = findLineEnd(buf, at); line >= 0; line = findLineEnd(buf, line + 2));
            this.pending = buf.subarray(at);
            return undefined;
          }
          if (end - at > MAX_HEAD_BYTES) throw invalid('the response head is too large');
          this.readHead(buf.toString('latin1', at, end));
          at = end + 4;
          break;
        }
        case 'length':
        case 'chunk-data': {
          const take = Math.min(this.remaining, buf.length - at);
          this.collect(buf.subarray(at, at + take));
          at += take;
          this.remaining -= take;
          if (this.remaining === 0) this.phase = this.phase === 'length' ? 'done' : 'chunk-end';
          break;
        }
        case 'chunk-size': {
          const end = this.lineEnd(buf, at, MAX_CHUNK_LINE_BYTES, 'a chunk size line is too long');
          if (end < 0) return undefined;
          const match = /^0*([0-9A-Fa-f]{1,8})[\t ]*(?:;[^\r\n]*)?$/.exec(buf.toString('latin1', at, end));
          if (match === null) throw invalid('a chunk size is not hexadecimal');
          this.remaining = Number.parseInt(match[1] as string, 16);
          at = end + 2;
          this.phase = this.remaining === 0 ? 'trailers' : 'chunk-data';
          break;
        }
        case 'chunk-end': {
          if (buf.length - at < 2) {
            this.pending = buf.subarray(at);
            return undefined;
          }
          if (buf[at] !== 13 || buf[at + 1] !== 10) throw invalid('a chunk does not end with CRLF');
          at += 2;
          this.phase = 'chunk-size';
          break;
        }
        case 'trailers': {
          // Trailer fields are read past, never used: lines up to an empty one.
          const end = this.lineEnd(buf, at, MAX_HEAD_BYTES, 'the trailer section is too large');
          if (end < 0) return undefined;
          if (end === at) this.phase = 'done';
          at = end + 2;
          break;
        }
        case 'until-close':
          this.collect(buf.subarray(at));
          at = buf.length;
          break;
      }
      if (this.phase === 'done') {
        // Empty lines after the response are tolerated (as before the next one). Any other byte
        // is an answer nobody asked for: the response itself is complete and is delivered (the
        // server acted on the request, as node:http would report), but the connection that
        // carried the extra bytes is not used again.
        for (; at < buf.length; at += 1) {
          if (buf[at] !== 13 && buf[at] !== 10) {
            this.keepAlive = false;
            break;
          }
        }
        return this.response();
      }
    }
    return undefined;
  }

  /**
   * The connection closed: the response, when it is framed by the close and complete.
   * Never throws; returns `undefined` when the response was cut short.
   */
  close(): HttpResponse | undefined {
    if (this.phase !== 'until-close') return undefined;
    this.phase = 'done';
    this.keepAlive = false;
    return this.response();
  }

  private response(): HttpResponse {
    const body = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    return {
      status: this.status,
      retryAfter: this.retryAfter,
      contentEncoding: this.contentEncoding,
      body,
      reusable: this.keepAlive,
      keepAliveMs: this.keepAliveMs,
    };
  }

  /**
   * The end of the line starting at `at`, or -1 with the rest kept for the next bytes.
   * @throws {Error} with code `ERR_INVALID_HTTP_RESPONSE` when the line grows past `maxBytes`
   */
  private lineEnd(buf: Buffer, at: number, maxBytes: number, tooLong: string): number {
    const end = findLineEnd(buf, at);
    if (end < 0) {
      if (buf.length - at > maxBytes) throw invalid(tooLong);
      this.pending = buf.subarray(at);
    }
    return end;
  }

  private collect(part: Buffer): void {
    if (part.length === 0) return;
    this.size += part.length;
    if (this.size > MAX_BODY_BYTES) {
      throw tooLarge();
    }
    this.chunks.push(part);
  }

  private readHead(head: string): void {
    const lineEnd = head.indexOf('\r\n');
    const statusLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
    const match = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/.exec(statusLine);
    if (match === null) throw invalid('the status line is not HTTP/1.x');
    const status = Number(match[2]);
    const http11 = match[1] === '1';
    let closing = false;
    let keepAlive = false;
    let contentLength: number | undefined;
    let chunked = false;
    let transferEncoding = false;
    let retryAfter: string | undefined;
    let contentEncoding: string | undefined;
    let keepAliveMs: number | undefined;
    let start = lineEnd < 0 ? head.length : lineEnd + 2;
    while (start < head.length) {
      let end = head.indexOf('\r\n', start);
      if (end < 0) end = head.length;
      const line = head.slice(start, end);
      start = end + 2;
      const colon = line.indexOf(':');
      // A name must be a token: no space before the colon, no folded continuation line.
      if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) throw invalid('a header line is malformed');
      const value = line.slice(colon + 1).trim();
      if (value.includes('\n') || value.includes('\r') || value.includes('\0'))
        throw invalid('a header value is malformed');
      switch (line.slice(0, colon).toLowerCase()) {
        case 'content-length': {
          // A repeated or listed length must agree (RFC 9112 §6.3 item 5).
          for (const part of value.split(',')) {
            const text = part.trim();
            // Any number of digits: one over the limit is refused as too large below.
            if (!/^\d+$/.test(text)) throw invalid('Content-Length is not a number');
            const length = Number(text);
            if (contentLength !== undefined && contentLength !== length)
              throw invalid('Content-Length values differ');
            contentLength = length;
          }
          break;
        }
        case 'transfer-encoding': {
          transferEncoding = true;
          const codings = value.toLowerCase().split(',');
          chunked = codings[codings.length - 1]?.trim() === 'chunked';
          break;
        }
        case 'connection': {
          const options = value
            .toLowerCase()
            .split(',')
            .map((option) => option.trim());
          // `close` on any Connection line wins over `keep-alive` on another.
          if (options.includes('close')) closing = true;
          if (options.includes('keep-alive')) keepAlive = true;
          break;
        }
        case 'retry-after':
          retryAfter = value;
          break;
        case 'content-encoding':
          contentEncoding = value;
          break;
        case 'keep-alive': {
          // `Keep-Alive: timeout=5, max=100` (RFC 2068 §19.7.1): how long the server keeps it idle.
          const timeout = /(?:^|[,\s])timeout\s*=\s*(\d{1,9})\b/i.exec(value);
          if (timeout !== null) keepAliveMs = Number(timeout[1]) * 1_000;
          break;
        }
      }
    }
    if (status < 200) {
      // An interim answer (100 Continue, 103 Early Hints): the real one follows.
      if (status === 101) throw invalid('the server switched protocols, which was not asked for');
      return;
    }
    this.status = status;
    this.retryAfter = retryAfter;
    this.contentEncoding = contentEncoding;
    this.keepAliveMs = keepAliveMs;
    this.keepAlive = !closing && (http11 || keepAlive);
    if (this.headRequest || status === 204 || status === 304) {
      this.phase = 'done';
    } else if (transferEncoding) {
      // Transfer-Encoding overrides Content-Length; without chunked last, the close frames it.
      // With a Content-Length too, or in HTTP/1.0, the framing is in doubt (a smuggling or
      // splitting sign, RFC 9112 §6.1 and §6.3): the connection carries nothing more.
      if (contentLength !== undefined || !http11) this.keepAlive = false;
      if (chunked) this.phase = 'chunk-size';
      else {
        this.phase = 'until-close';
        this.keepAlive = false;
      }
    } else if (contentLength !== undefined) {
      if (contentLength > MAX_BODY_BYTES) {
        throw tooLarge();
      }
      this.remaining = contentLength;
      this.phase = contentLength === 0 ? 'done' : 'length';
    } else {
      this.phase = 'until-close';
      this.keepAlive = false;
    }
  }
}

/**
 * The index of the CRLF that ends the line starting at `at`, or -1 while it has not arrived.
 * @throws {Error} with code `ERR_INVALID_HTTP_RESPONSE` for a bare LF
 */
function findLineEnd(buf: Buffer, at: number): number {
  const lf = buf.indexOf(10, at);
  if (lf < 0) return -1;
  if (lf === at || buf[lf - 1] !== 13) throw invalid('a line ends with a bare LF');
  return lf - 1;
}

function tooLarge(): Error {
  return httpFailure(`the response body is over ${MAX_BODY_BYTES} bytes`, 'ERR_RESPONSE_TOO_LARGE');
}

function invalid(what: string): Error {
  return httpFailure(`invalid HTTP response: ${what}`, 'ERR_INVALID_HTTP_RESPONSE');
}
