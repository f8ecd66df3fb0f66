import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { ConfigError } from '../errors.js';
import { ClearTalkTransportError } from './errors.js';
import { formatRequestHead, type HttpResponse, ResponseReader } from './http1.js';

/**
 * The ClearTalk client's HTTP transport: HTTP/1.1 over `node:net`/`node:tls` with a pool of
 * keep-alive connections and the framing in `http1.ts`. CPU per PATCH is what a worker Lambda
 * pays for every job: axios cost ~3x a raw `node:http` request, and a raw `node:http` loop costs
 * ~1.5-2x the whole client on this transport (sender CPU per request 98-157 µs against 53-87 µs:
 * docs/benchmarks.md, bench:client and bench:worker). `undici` bundles to over 400 KB.
 *
 * It does only what the client needs: one request at a time per connection, a wall-clock limit
 * on the whole attempt, the body read as text, and failures turned into
 * {@link ClearTalkTransportError} (message and code only: nothing else is kept, so the API key
 * cannot travel in a `cause`).
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

// Node's http.Agent keeps at most this many idle sockets too.
const MAX_IDLE_CONNECTIONS = 256;
// How long an idle connection is reused when the server gives no `Keep-Alive: timeout` (undici's
// default too): servers and load balancers close idle connections after a few seconds (Node 5 s)
// to a minute (ALB 60 s), and a Lambda thawed after a freeze would otherwise send its first
// requests on connections the server closed long ago.
const IDLE_MS = 4_000;
// With a `Keep-Alive: timeout` hint, stop a second before the server would close the connection.
const IDLE_MARGIN_MS = 1_000;

export interface HttpTransportOptions {
  /** Epoch ms, for the idle limit. @default Date.now */
  readonly now?: () => number;
}

/**
 * Creates a transport for `baseUrl` (http or https) with its own pool of keep-alive connections.
 * @throws {ConfigError} when `baseUrl` is not an http(s) URL
 */
export function createHttpTransport(baseUrl: string, options: HttpTransportOptions = {}): HttpTransport {
  const now = options.now ?? Date.now;
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
  // A socket wants an IPv6 literal without the brackets URL keeps.
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const basePath = url.pathname.replace(/\/+$/, '');
  // URL.host leaves out a default port and keeps an IPv6 literal's brackets, as Host wants.
  const host = url.host;
  const idle: Connection[] = [];
  // The latest TLS session ClearTalk gave us: a new connection resumes it (an abbreviated
  // handshake, as https.Agent does with its session cache); a server that declines it costs a
  // full handshake, nothing else.
  let tlsSession: Buffer | undefined;
  const open = (): Socket => {
    if (!secure) return netConnect({ host: hostname, port });
    const socket = tlsConnect({
      host: hostname,
      port,
      // SNI names a host, never an address (RFC 6066 §3); the certificate is checked either way.
      ...(isIP(hostname) === 0 ? { servername: hostname } : {}),
      ALPNProtocols: ['http/1.1'],
      ...(tlsSession === undefined ? {} : { session: tlsSession }),
    });
    socket.on('session', (session: Buffer) => {
      tlsSession = session;
    });
    // A connection that failed, or closed before its handshake completed, drops the session (as
    // https.Agent evicts on error): a server that fails a resumption outright, instead of
    // declining it, would otherwise fail every later connection that offers the same session.
    // On 'error', before the exchange hears of it: 'close' comes a turn later, after the
    // client's immediate retry has opened its connection.
    let established = false;
    socket.once('secureConnect', () => {
      established = true;
    });
    socket.on('error', () => {
      tlsSession = undefined;
    });
    socket.once('close', () => {
      if (!established) tlsSession = undefined;
    });
    return socket;
  };

  /**
   * The most recently used idle connection still within its idle limit. Expired ones are closed:
   * from the bottom of the pool (the oldest, which a busy pool would otherwise keep open until the
   * server closes them) and from the top until a usable one comes up.
   */
  function checkout(): Connection | undefined {
    const time = now();
    while (idle.length > 0 && !(idle[0] as Connection).usableAt(time)) (idle.shift() as Connection).abandon();
    for (let connection = idle.pop(); connection !== undefined; connection = idle.pop()) {
      if (connection.usableAt(time)) return connection;
      connection.abandon();
    }
    return undefined;
  }

  function send(call: TransportRequest): Promise<TransportOutcome> {
    return new Promise<TransportOutcome>((resolve) => {
      const exchange = new Exchange(resolve, call.timeoutMs);
      let head: string;
      let connection: Connection;
      try {
        head = formatRequestHead({
          method: call.method,
          path: basePath + call.path,
          host,
          headers: call.headers,
          contentLength: call.body === undefined ? undefined : Buffer.byteLength(call.body),
        });
        // The most recently used connection first: the one least likely to have been closed.
        connection = checkout() ?? new Connection(open(), idle, now);
      } catch (error) {
        // e.g. a header value with a line break (the error names the header, not the value),
        // or a port the socket refuses.
        exchange.fail(error);
        return;
      }
      connection.start(exchange, call.body === undefined ? head : head + call.body, call.method === 'HEAD');
    });
  }

  return { send };
}

/**
 * One keep-alive connection: carries one exchange at a time, then waits in the idle list
 * (unreferenced, so an idle connection never keeps a process alive, as with Node's agent).
 */
class Connection {
  private exchange: Exchange | undefined;
  private reader: ResponseReader | undefined;
  private served = 0;
  private idleUntil = 0;

  constructor(
    private readonly socket: Socket,
    private readonly idle: Connection[],
    private readonly now: () => number,
  ) {
    socket.setNoDelay(true);
    // TCP keep-alive probes on a pooled connection, as Node's agent sets them (keepAliveMsecs).
    socket.setKeepAlive(true, 1_000);
    socket.on('data', (data: Buffer) => this.receive(data));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.closedByPeer());
  }

  /** Sends `message`; a HEAD request's answer is read without a body. */
  start(exchange: Exchange, message: string, headRequest: boolean): void {
    this.exchange = exchange;
    this.reader = new ResponseReader(headRequest);
    exchange.attach(this, this.served > 0);
    this.socket.ref();
    this.socket.write(message);
  }

  /** Whether the connection, idle since its last answer, may still carry a request at `time`. */
  usableAt(time: number): boolean {
    return time < this.idleUntil;
  }

  /** Ends the connection at once (a failed or timed-out exchange, a misbehaving server). */
  abandon(): void {
    this.exchange = undefined;
    this.leaveIdle();
    this.socket.destroy();
  }

  private receive(data: Buffer): void {
    const { exchange, reader } = this;
    if (exchange === undefined || reader === undefined) {
      // Bytes nobody asked for on an idle connection: it cannot be trusted with the next request.
      this.abandon();
      return;
    }
    let response: HttpResponse | undefined;
    try {
      response = reader.feed(data);
    } catch (error) {
      // Bytes of an answer came: whatever was wrong with them, the connection was not stale.
      exchange.fail(error, true);
      return;
    }
    if (response !== undefined) this.finish(exchange, response);
  }

  private finish(exchange: Exchange, response: HttpResponse): void {
    this.exchange = undefined;
    this.reader = undefined;
    this.served += 1;
    const idleMs = response.keepAliveMs === undefined ? IDLE_MS : response.keepAliveMs - IDLE_MARGIN_MS;
    if (
      response.reusable &&
      idleMs > 0 &&
      !this.socket.destroyed &&
      this.idle.length < MAX_IDLE_CONNECTIONS
    ) {
      this.idleUntil = this.now() + idleMs;
      this.socket.unref();
      this.idle.push(this);
    } else {
      this.abandon();
    }
    exchange.complete(response);
  }

  private closedByPeer(): void {
    this.leaveIdle();
    const { exchange, reader } = this;
    if (exchange === undefined || reader === undefined) return;
    // A response framed by the end of the connection is complete now; anything else was cut.
    const response = reader.close();
    if (response !== undefined) {
      this.finish(exchange, response);
      return;
    }
    const what = reader.started ? 'in the middle of the response' : 'before a response';
    this.fail(Object.assign(new Error(`the connection closed ${what}`), { code: 'ECONNRESET' }));
  }

  /** The socket failed or closed under an exchange. */
  private fail(error: unknown): void {
    const { exchange, reader } = this;
    if (exchange === undefined) return;
    if (this.served > 0 && reader?.started === false) {
      // A reused connection dead before the first byte of the answer was stale: closed by the
      // peer while idle unnoticed, as after a Lambda thaw. The other idle ones most likely are
      // too; dropping them all lets the client's one immediate retry get a new one.
      for (const other of this.idle.splice(0)) other.abandon();
    }
    exchange.fail(error, reader?.started === true);
  }

  private leaveIdle(): void {
    const index = this.idle.indexOf(this);
    if (index >= 0) this.idle.splice(index, 1);
  }
}

/**
 * One request and its answer: settles its promise exactly once, with the answer or the failure.
 * A class rather than closures per request: its methods are shared, so a request allocates one
 * object.
 */
class Exchange {
  private connection: Connection | undefined;
  private reusedSocket = false;
  private settled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly resolve: (outcome: TransportOutcome) => void,
    timeoutMs: number,
  ) {
    // A timer, not the socket's idle timeout: a server trickling the body one byte at a time
    // never lets a socket go idle, and the attempt must still end before the Lambda's deadline.
    this.timer = setTimeout(timeOut, timeoutMs, this, timeoutMs);
  }

  attach(connection: Connection, reusedSocket: boolean): void {
    this.connection = connection;
    this.reusedSocket = reusedSocket;
  }

  /**
   * Fails the exchange. `answerStarted`: bytes of the answer had arrived, so the server had the
   * request, and a reused connection was not a stale one.
   */
  fail(error: unknown, answerStarted = false): void {
    if (this.settled) return;
    this.finish({ ok: false, error: toTransportError(error, this.reusedSocket && !answerStarted) });
    // Frees the socket at once instead of leaving it to a server that misbehaves.
    this.connection?.abandon();
  }

  complete(response: HttpResponse): void {
    let body: string;
    try {
      body = decodeBody(response.body, response.contentEncoding);
    } catch (error) {
      // The whole answer came: the connection was not stale.
      this.finish({ ok: false, error: toTransportError(error, false) });
      return;
    }
    this.finish({ ok: true, status: response.status, retryAfter: response.retryAfter, body });
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

// No Accept-Encoding is sent (a contact is a few hundred bytes: compression would cost more
// than it saves), but without that header a server may still pick any coding (RFC 9110 §12.5.3).
function decodeBody(raw: Buffer, encoding: string | undefined): string {
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
