import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { ConfigError } from '../errors.js';
import { ClearTalkTransportError } from './errors.js';

/**
 * The ClearTalk client's HTTP transport: `node:http`/`node:https` with one keep-alive agent,
 * in place of axios, which cost ~3x a raw `node:http` request's CPU (docs/benchmarks.md,
 * bench:client). It does only what the client needs: one request, a wall-clock limit on the
 * whole attempt, the body read as text, and failures turned into {@link ClearTalkTransportError}
 * (message and code only: a Node request error holds no headers, but nothing else is kept
 * either, so the API key cannot travel in a `cause`).
 *
 * It connects to ClearTalk directly: `HTTP(S)_PROXY` is not read (the worker runs outside a
 * VPC with direct egress; a CONNECT tunnel is not worth its code until a deployment needs it).
 */

/** A complete HTTP answer of any status; the caller classifies it. */
export interface TransportResponse {
  ok: true;
  status: number;
  /** The `Retry-After` header, when present. */
  retryAfter: string | undefined;
  /** The body as UTF-8 text (decompressed if the server compressed it anyway). */
  body: string;
}

export type TransportOutcome = TransportResponse | { ok: false; error: ClearTalkTransportError };

export interface TransportRequest {
  method: string;
  /** Path below the base URL's path, e.g. `/contacts/1`. */
  path: string;
  /** Request headers; `Host` and `Content-Length` are the transport's. */
  headers: Readonly<Record<string, string>>;
  /** Sent with a `Content-Length` (never chunked); `undefined` sends no body. */
  body: string | undefined;
  /** Wall-clock limit of the whole attempt, connect to last body byte. */
  timeoutMs: number;
}

export interface HttpTransport {
  /** Sends one request; resolves (never rejects) with the answer or the transport failure. */
  send(request: TransportRequest): Promise<TransportOutcome>;
}

// A contact is well under 1 MiB; anything bigger is not an answer we can use.
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Creates a transport for `baseUrl` (http or https) with one keep-alive agent, made once.
 * @throws {ConfigError} when `baseUrl` is not an http(s) URL
 */
export function createHttpTransport(baseUrl: string): HttpTransport {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new ConfigError(['the ClearTalk base URL is not a URL']);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError([`the ClearTalk base URL must be http(s), not ${url.protocol}`]);
  }
  const secure = url.protocol === 'https:';
  const agent = secure ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const makeRequest = secure ? httpsRequest : httpRequest;
  // node:http wants an IPv6 literal without the brackets URL keeps.
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? undefined : Number(url.port);
  const basePath = url.pathname.replace(/\/+$/, '');
  // URL.host leaves out a default port and keeps an IPv6 literal's brackets, as Host wants.
  const host = url.host;

  function send(call: TransportRequest): Promise<TransportOutcome> {
    return new Promise<TransportOutcome>((resolve) => {
      const exchange = new Exchange(resolve, call.timeoutMs);
      try {
        exchange.request = makeRequest(
          {
            agent,
            hostname,
            port,
            path: basePath + call.path,
            method: call.method,
            headers: headerList(host, call),
          },
          (response) => exchange.receive(response),
        );
      } catch (error) {
        // e.g. a header value Node refuses (ERR_INVALID_CHAR names the header, not the value).
        exchange.fail(error);
        return;
      }
      exchange.request.on('error', (error) => exchange.fail(error));
      exchange.request.end(call.body);
    });
  }

  return { send };
}

/**
 * One request and its answer: settles its promise exactly once, with the answer or the failure.
 * A class rather than closures per request: its methods are shared, so a request allocates one
 * object and a few small listeners.
 */
class Exchange {
  request: ClientRequest | undefined;
  private settled = false;
  private readonly timer: NodeJS.Timeout;
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(
    private readonly resolve: (outcome: TransportOutcome) => void,
    timeoutMs: number,
  ) {
    // A timer, not the socket's idle timeout: a server trickling the body one byte at a time
    // never lets a socket go idle, and the attempt must still end before the Lambda's deadline.
    this.timer = setTimeout(timeOut, timeoutMs, this, timeoutMs);
  }

  receive(response: IncomingMessage): void {
    const declared = Number(response.headers['content-length']);
    if (declared > MAX_BODY_BYTES) {
      this.fail(tooLarge());
      return;
    }
    response.on('data', (chunk: Buffer) => this.collect(chunk));
    response.on('end', () => this.complete(response));
    // The connection broke mid-body: Node emits an ECONNRESET 'aborted' error here.
    response.on('error', (error) => this.fail(error));
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.finish({ ok: false, error: toTransportError(error, this.request?.reusedSocket === true) });
    // Frees the socket at once instead of leaving it to a server that misbehaves.
    this.request?.destroy();
  }

  private collect(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > MAX_BODY_BYTES) this.fail(tooLarge());
    else this.chunks.push(chunk);
  }

  private complete(response: IncomingMessage): void {
    let body: string;
    try {
      body = decodeBody(this.chunks, response.headers['content-encoding']);
    } catch (error) {
      this.fail(error);
      return;
    }
    const retryAfter = response.headers['retry-after'];
    this.finish({ ok: true, status: response.statusCode ?? 0, retryAfter, body });
  }

  private finish(outcome: TransportOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(outcome);
  }
}

function timeOut(exchange: Exchange, timeoutMs: number): void {
  exchange.fail(Object.assign(new Error(`timeout of ${timeoutMs}ms exceeded`), { code: 'ETIMEDOUT' }));
}

/**
 * The headers as a flat `[name, value, ...]` list: Node writes such a list as it is (still
 * validating every name and value) instead of first building its own header map one `setHeader`
 * at a time, about 20 µs less CPU per request (measured). A list gets no automatic `Host`.
 */
function headerList(host: string, call: TransportRequest): string[] {
  const list = ['Host', host];
  for (const name in call.headers) list.push(name, call.headers[name] as string);
  if (call.body !== undefined) list.push('Content-Length', String(Buffer.byteLength(call.body)));
  return list;
}

function tooLarge(): Error {
  return Object.assign(new Error(`the response body is over ${MAX_BODY_BYTES} bytes`), {
    code: 'ERR_RESPONSE_TOO_LARGE',
  });
}

// No Accept-Encoding is sent (a contact is a few hundred bytes: compression would cost more
// than it saves), but without that header a server may still pick any coding (RFC 9110 §12.5.3).
function decodeBody(chunks: Buffer[], encoding: string | undefined): string {
  const raw = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
  switch (encoding?.trim().toLowerCase()) {
    case undefined:
    case '':
    case 'identity':
      return raw.toString('utf8');
    case 'gzip':
    case 'x-gzip':
      return gunzipSync(raw).toString('utf8');
    case 'deflate':
      return inflateSync(raw).toString('utf8');
    case 'br':
      return brotliDecompressSync(raw).toString('utf8');
    default:
      throw Object.assign(new Error(`unsupported content-encoding ${JSON.stringify(encoding)}`), {
        code: 'ERR_CONTENT_ENCODING',
      });
  }
}

function toTransportError(error: unknown, reusedSocket: boolean): ClearTalkTransportError {
  const code = (error as { code?: unknown } | null)?.code;
  return new ClearTalkTransportError(error instanceof Error ? error.message : 'unknown failure', {
    code: typeof code === 'string' ? code : undefined,
    reusedSocket,
  });
}
