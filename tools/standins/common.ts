import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Shared plumbing of the local API stand-ins (tools/standins/*): an HTTP server on 127.0.0.1, a
 * request log with timestamps from an injectable clock (tests pass their fake clock, so rates are
 * checked on the same time axis the code under test sees), injectable faults and a seeded PRNG
 * for generated data.
 */

/** One request as the stand-in saw it. */
export interface LoggedRequest {
  /** Epoch ms on the stand-in's clock. */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly status: number;
  /** What the stand-in did: `ok`, `unauthorized`, `rate-limited`, `throttled`, `fault:<kind>`, … */
  readonly outcome: string;
  /** Parsed JSON request body (GraphQL variables), when there was one. */
  readonly body?: unknown;
}

/**
 * A failure the next request(s) get instead of the normal answer: `times` requests in a row
 * (default 1), after letting `skip` requests through first (default 0).
 */
export type Fault = (
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string }
  | { readonly kind: 'malformed' }
  | { readonly kind: 'throttled' }
) & { readonly times?: number; readonly skip?: number };

export interface Reply {
  readonly status: number;
  readonly body: string;
  readonly headers?: Record<string, string>;
  readonly outcome: string;
}

export interface StandinServer {
  readonly url: string;
  readonly server: Server;
  stop(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 (port 0 = any free port) that answers through `handle`. */
export async function startJsonServer(
  port: number,
  handle: (request: {
    method: string;
    url: URL;
    headers: IncomingMessage['headers'];
    body: string;
  }) => Promise<Reply> | Reply,
  log: (entry: LoggedRequest) => void,
  now: () => number,
): Promise<StandinServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      // Arrival time: what a rate limit is judged on (answering a big page takes a while).
      const at = now();
      const body = Buffer.concat(chunks).toString('utf8');
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      Promise.resolve(handle({ method: req.method ?? 'GET', url, headers: req.headers, body }))
        .catch(
          (error: unknown): Reply => ({
            status: 500,
            body: JSON.stringify({ error: 'standin-failure', message: String(error) }),
            outcome: 'standin-error',
          }),
        )
        .then((reply) => {
          let parsedBody: unknown;
          try {
            parsedBody = body ? JSON.parse(body) : undefined;
          } catch {
            parsedBody = undefined;
          }
          log({
            at,
            method: req.method ?? 'GET',
            path: url.pathname,
            query: Object.fromEntries(url.searchParams),
            status: reply.status,
            outcome: reply.outcome,
            ...(parsedBody === undefined ? {} : { body: parsedBody }),
          });
          res.writeHead(reply.status, {
            'content-type': 'application/json; charset=utf-8',
            ...reply.headers,
          });
          res.end(reply.body);
        });
    });
  });
  // Keep-alive sockets would otherwise hold `stop()` open until they time out.
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A queue of injected faults, consumed one request at a time. */
export function createFaultQueue() {
  const queue: { fault: Fault; left: number; skip: number }[] = [];
  return {
    push(fault: Fault) {
      queue.push({ fault, left: fault.times ?? 1, skip: fault.skip ?? 0 });
    },
    /** The fault for this request, if any. */
    take(): Fault | undefined {
      const head = queue[0];
      if (!head) return undefined;
      if (head.skip > 0) {
        head.skip--;
        return undefined;
      }
      head.left--;
      if (head.left <= 0) queue.shift();
      return head.fault;
    },
    get pending() {
      return queue.length;
    },
  };
}

/** mulberry32: a small seeded PRNG, so generated data is the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const FIRST_NAMES = [
  'Ada',
  'Grace',
  'Alan',
  'Katherine',
  'Linus',
  'Margaret',
  'Dennis',
  'Barbara',
  'Édith',
  'Zoë',
];
const LAST_NAMES = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Johnson',
  'Torvalds',
  'Hamilton',
  'Ritchie',
  'Liskov',
  'Piaf',
];

/** A deterministic fake person for record `index` (values are synthetic, never real data). */
export function fakePerson(index: number, seed: number) {
  const random = seededRandom(seed * 1_000_003 + index);
  const first = FIRST_NAMES[Math.floor(random() * FIRST_NAMES.length)] ?? 'Ada';
  const last = LAST_NAMES[Math.floor(random() * LAST_NAMES.length)] ?? 'Lovelace';
  const number = String(1_000_000 + (index % 9_000_000)).padStart(7, '0');
  return {
    firstName: first,
    lastName: last,
    email: `${first
      .normalize('NFD')
      .replace(/[^A-Za-z]/g, '')
      .toLowerCase()}.${index}@example.com`,
    // 555-01xx style numbers are reserved for fiction; we need many, so use the 201 area code's 555 block.
    phone: `+1201555${number.slice(-4)}`,
    plan: ['free', 'pro', 'team'][index % 3] ?? 'free',
    city: ['Lisbon', 'Austin', 'Berlin', 'Osaka'][index % 4] ?? 'Lisbon',
  };
}

/** ISO timestamp to the second, UTC with `Z`. */
export function isoSecond(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** Sends JSON. */
export function json(
  status: number,
  value: unknown,
  outcome: string,
  headers?: Record<string, string>,
): Reply {
  return { status, body: JSON.stringify(value), outcome, ...(headers ? { headers } : {}) };
}
