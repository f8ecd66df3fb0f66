import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as z from 'zod';
import { CONTACT_STRING_FIELDS, type Contact, ContactPatchSchema } from '../../lib/cleartalk/schemas.js';
import { describeIssues } from '../../lib/errors.js';

/**
 * The ClearTalk sandbox: a real HTTP server that stands in for the ClearTalk API in local
 * runs, integration tests, benchmarks and soak tests (issue 2 §4).
 *
 * Semantics, where the reference is silent we pick the conservative reading:
 * - `PATCH /contacts/{id}` sets the fields present and REPLACES `customField` whole: the
 *   reference does not say nested objects are merged, so the worker must merge (DESIGN.md
 *   step 5) and tests can see it when it does not.
 * - `Idempotency-Key` (PATCH/POST): the same key with the same method, path and body replays
 *   the first 2xx answer without applying it again; the same key with anything else is 422.
 *   Failed requests are not remembered, so a retry after a 4xx/5xx/fault is processed anew.
 * - Faults: random shares (seeded PRNG) and scripted per-request faults. A status fault
 *   answers without touching the store; a slow response applies the change and then answers
 *   late (as a real slow server would); a reset destroys the socket without applying.
 * - `/__sandbox/*` is the control API for other processes: no auth, never faulted.
 */

export interface SandboxFaults {
  rate429?: number;
  rate500?: number;
  rate503?: number;
  rateSlow?: number;
  /** How late a slow response answers. @default 15_000 (over the client's 10 s timeout) */
  slowMs?: number;
  rateReset?: number;
  /** `Retry-After` sent with random 429s. @default 1 */
  retryAfterSeconds?: number;
  seed?: number;
}

export interface ScriptedFault {
  method?: string;
  path?: string | RegExp;
  /** Answer with this status instead of processing the request (nothing is applied). */
  status?: number;
  retryAfter?: string;
  /** Answer this late; without `status` the request is processed normally first. */
  delayMs?: number;
  /** Destroy the socket without answering (nothing is applied). */
  reset?: boolean;
  /** Body of a `status` answer; a string is sent as is (e.g. malformed JSON). */
  body?: unknown;
  /** How many matching requests this fault applies to. @default 1 */
  times?: number;
}

export interface SandboxRequest {
  method: string;
  path: string;
  idempotencyKey?: string;
  /** The status answered; 0 for a reset. */
  status: number;
  /** Epoch ms of arrival. */
  at: number;
  /** e.g. `script:503`, `random:429`, `random:reset`, `random:slow`, `replay`. */
  fault?: string;
  body?: unknown;
}

export interface Sandbox {
  readonly url: string;
  readonly port: number;
  readonly apiKey: string;
  /** Simulates a key rotation. */
  setApiKey(key: string): void;
  setFaults(faults: SandboxFaults): void;
  /** Consumed in order by matching requests, before random faults. */
  script(...faults: ScriptedFault[]): void;
  seed(contacts: Array<Partial<Contact> & { id: number }>): void;
  contacts(): Contact[];
  contact(id: number): Contact | undefined;
  /** The request log, oldest first (bounded to the last `maxLoggedRequests`). */
  requests(): SandboxRequest[];
  /** Back to the start state: the initial key, faults and seed file; no log, no script, no idempotency memory. */
  reset(): void;
  stop(): Promise<void>;
}

export interface SandboxOptions {
  /** 0 picks a free port. @default 4010 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 'sandbox-key' */
  apiKey?: string;
  faults?: SandboxFaults;
  /** JSON: an array of contacts (or `{ "contacts": [...] }`), each with a numeric `id`. */
  seedFile?: string;
  /** No start-up line on stderr. */
  quiet?: boolean;
  /** @default 200_000 */
  maxLoggedRequests?: number;
  /** The `userId` of created contacts. @default 1 */
  userId?: number;
}

const share = z.number().min(0).max(1).optional();
export const SandboxFaultsSchema = z
  .strictObject({
    rate429: share,
    rate500: share,
    rate503: share,
    rateSlow: share,
    slowMs: z.number().int().nonnegative().optional(),
    rateReset: share,
    retryAfterSeconds: z.number().nonnegative().optional(),
    seed: z.number().int().optional(),
  })
  .refine(
    (f) =>
      (f.rate429 ?? 0) + (f.rate500 ?? 0) + (f.rate503 ?? 0) + (f.rateSlow ?? 0) + (f.rateReset ?? 0) <= 1,
    {
      message: 'the fault shares add up to more than 1',
    },
  );

/** A scripted fault as JSON (control API): `path` is exact, `pathRegex` a regular expression. */
export const ScriptedFaultJsonSchema = z.strictObject({
  method: z.string().optional(),
  path: z.string().optional(),
  pathRegex: z.string().optional(),
  status: z.number().int().min(100).max(599).optional(),
  retryAfter: z.string().optional(),
  delayMs: z.number().int().nonnegative().optional(),
  reset: z.boolean().optional(),
  body: z.unknown().optional(),
  times: z.number().int().positive().optional(),
});

const SeedContactSchema = z.looseObject({ id: z.number().int().positive() });
const SeedSchema = z.union([z.array(SeedContactSchema), z.object({ contacts: z.array(SeedContactSchema) })]);

const MAX_BODY_BYTES = 1024 * 1024;
const CONTACT_PATH = /^\/contacts\/([^/]+)$/;

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  fault?: string;
}

interface StoredAnswer {
  fingerprint: string;
  status: number;
  body: unknown;
}

/** Starts the sandbox and resolves once it listens. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const initialKey = options.apiKey ?? 'sandbox-key';
  const initialFaults = parseFaults(options.faults ?? {});
  const maxLogged = options.maxLoggedRequests ?? 200_000;
  const userId = options.userId ?? 1;
  const seedContacts = options.seedFile ? await readSeedFile(options.seedFile) : [];

  let apiKey = initialKey;
  let faults: SandboxFaults = initialFaults;
  let random = createPrng(faults.seed ?? 1);
  let scripted: Array<ScriptedFault & { remaining: number }> = [];
  let log: SandboxRequest[] = [];
  let nextId = 1;
  const store = new Map<number, Contact>();
  const idempotency = new Map<string, StoredAnswer>();
  const timers = new Set<NodeJS.Timeout>();

  function setFaults(next: SandboxFaults): void {
    faults = parseFaults(next);
    random = createPrng(faults.seed ?? 1);
  }

  function seed(contacts: Array<Partial<Contact> & { id: number }>): void {
    const stamp = new Date().toISOString();
    for (const input of contacts) {
      const contact = { ...emptyContact(input.id, userId, stamp), ...structuredClone(input) } as Contact;
      store.set(contact.id, contact);
      nextId = Math.max(nextId, contact.id + 1);
    }
  }

  function reset(): void {
    apiKey = initialKey;
    setFaults(initialFaults);
    scripted = [];
    log = [];
    store.clear();
    idempotency.clear();
    nextId = 1;
    seed(seedContacts);
  }
  reset();

  function record(entry: SandboxRequest): void {
    log.push(entry);
    // Trim in chunks so the log stays O(1) per request on long soak runs.
    if (log.length > maxLogged + Math.ceil(maxLogged / 4)) log = log.slice(log.length - maxLogged);
  }

  function takeScripted(method: string, path: string): ScriptedFault | undefined {
    const index = scripted.findIndex(
      (f) =>
        (f.method === undefined || f.method.toUpperCase() === method) &&
        (f.path === undefined || (typeof f.path === 'string' ? f.path === path : f.path.test(path))),
    );
    const fault = scripted[index];
    if (fault === undefined) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) scripted.splice(index, 1);
    return fault;
  }

  function drawRandom(): { kind: '429' | '500' | '503' | 'reset' | 'slow' } | undefined {
    const { rate429 = 0, rate500 = 0, rate503 = 0, rateReset = 0, rateSlow = 0 } = faults;
    if (rate429 + rate500 + rate503 + rateReset + rateSlow === 0) return undefined;
    let r = random();
    for (const [kind, rate] of [
      ['429', rate429],
      ['500', rate500],
      ['503', rate503],
      ['reset', rateReset],
      ['slow', rateSlow],
    ] as const) {
      if (r < rate) return { kind };
      r -= rate;
    }
    return undefined;
  }

  function answerApi(req: IncomingMessage, method: string, path: string, text: string): Answer {
    if (req.headers['x-api-key'] !== apiKey) return { status: 401, body: { error: 'unauthorized' } };
    const match = CONTACT_PATH.exec(path);
    if (path !== '/contacts' && match === null) return { status: 404, body: { error: 'not-found' } };
    if (path === '/contacts' && method !== 'POST')
      return { status: 405, body: { error: 'method-not-allowed' } };
    if (match !== null && method !== 'GET' && method !== 'PATCH') {
      return { status: 405, body: { error: 'method-not-allowed' } };
    }

    const key = header(req, 'idempotency-key');
    let fingerprint: string | undefined;
    if (key !== undefined && method !== 'GET') {
      fingerprint = fingerprintOf(method, path, text);
      const stored = idempotency.get(key);
      if (stored !== undefined) {
        if (stored.fingerprint !== fingerprint) {
          return { status: 422, body: { error: 'idempotency-key-reused' } };
        }
        return {
          status: stored.status,
          body: stored.body,
          headers: { 'idempotent-replayed': 'true' },
          fault: 'replay',
        };
      }
    }

    const answer = applyRequest(method, match?.[1], text);
    if (fingerprint !== undefined && key !== undefined && answer.status < 300) {
      idempotency.set(key, { fingerprint, status: answer.status, body: answer.body });
      // Bounded memory on long runs: forget the oldest keys first.
      if (idempotency.size > 1_000_000) {
        const oldest = idempotency.keys().next();
        if (!oldest.done) idempotency.delete(oldest.value);
      }
    }
    return answer;
  }

  function applyRequest(method: string, idText: string | undefined, text: string): Answer {
    let contact: Contact | undefined;
    if (idText !== undefined) {
      const id = /^[1-9][0-9]{0,15}$/.test(idText) ? Number(idText) : Number.NaN;
      contact = store.get(id);
      if (contact === undefined) return { status: 404, body: { error: 'not-found' } };
      if (method === 'GET') return { status: 200, body: snapshot(contact) };
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return { status: 400, body: { error: 'invalid-json' } };
    }
    const parsed = ContactPatchSchema.safeParse(data);
    if (!parsed.success) {
      return { status: 400, body: { error: 'invalid-body', issues: describeIssues(parsed.error.issues) } };
    }
    const stamp = new Date().toISOString();
    if (contact === undefined) {
      contact = emptyContact(nextId, userId, stamp);
      nextId += 1;
      store.set(contact.id, contact);
      applyPatch(contact, parsed.data);
      return { status: 201, body: snapshot(contact) };
    }
    applyPatch(contact, parsed.data);
    contact.updatedAt = stamp;
    return { status: 200, body: snapshot(contact) };
  }

  function handleControl(method: string, path: string, query: string, text: string): Answer {
    let body: unknown;
    if (method === 'POST' && text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        return { status: 400, body: { error: 'invalid-json' } };
      }
    }
    try {
      switch (`${method} ${path}`) {
        case 'GET /__sandbox/contacts':
          return { status: 200, body: [...store.values()] };
        case 'GET /__sandbox/requests': {
          const limit = Number(new URLSearchParams(query).get('limit') ?? 'NaN');
          return {
            status: 200,
            body: Number.isInteger(limit) && limit >= 0 ? log.slice(-limit || log.length) : log,
          };
        }
        case 'GET /__sandbox/state':
          return {
            status: 200,
            body: { url: sandbox.url, faults, scripted: scripted.length, logged: log.length },
          };
        case 'POST /__sandbox/faults':
          setFaults(parseFaults(body ?? {}));
          return { status: 200, body: { ok: true, faults } };
        case 'POST /__sandbox/script': {
          const list = z.array(ScriptedFaultJsonSchema).parse(Array.isArray(body) ? body : [body]);
          sandbox.script(...list.map(fromJsonFault));
          return { status: 200, body: { ok: true, scripted: scripted.length } };
        }
        case 'POST /__sandbox/seed': {
          const parsed = SeedSchema.parse(body);
          seed(
            (Array.isArray(parsed) ? parsed : parsed.contacts) as Array<Partial<Contact> & { id: number }>,
          );
          return { status: 200, body: { ok: true, contacts: store.size } };
        }
        case 'POST /__sandbox/reset':
          reset();
          return { status: 200, body: { ok: true } };
        case 'POST /__sandbox/api-key': {
          const { apiKey: next } = z.object({ apiKey: z.string().min(1) }).parse(body);
          apiKey = next;
          return { status: 200, body: { ok: true } };
        }
        default:
          return { status: 404, body: { error: 'unknown-control-route' } };
      }
    } catch (error) {
      if (error instanceof z.ZodError) {
        return { status: 400, body: { error: 'invalid-body', issues: describeIssues(error.issues) } };
      }
      throw error;
    }
  }

  function send(res: ServerResponse, answer: Answer): void {
    if (res.destroyed || res.writableEnded) return;
    const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
    res.writeHead(answer.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      ...answer.headers,
    });
    res.end(text);
  }

  function later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, ms);
    timers.add(timer);
  }

  function handle(req: IncomingMessage, res: ServerResponse, text: string): void {
    const method = (req.method ?? 'GET').toUpperCase();
    const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
    if (path.startsWith('/__sandbox/')) {
      send(res, handleControl(method, path, query, text));
      return;
    }
    const entry: SandboxRequest = { method, path, status: 0, at: Date.now() };
    const key = header(req, 'idempotency-key');
    if (key !== undefined) entry.idempotencyKey = key;
    if (text !== '') entry.body = parseOrText(text);
    record(entry);

    const script = takeScripted(method, path);
    const drawn = script === undefined ? drawRandom() : undefined;
    if (script?.reset || drawn?.kind === 'reset') {
      entry.fault = script ? 'script:reset' : 'random:reset';
      req.socket.destroy();
      return;
    }
    if (script?.status !== undefined) {
      const answer: Answer = {
        status: script.status,
        body: script.body ?? { error: 'injected' },
        fault: `script:${script.status}`,
      };
      if (script.retryAfter !== undefined) answer.headers = { 'retry-after': script.retryAfter };
      finish(res, entry, answer, script.delayMs ?? 0);
      return;
    }
    if (drawn !== undefined && drawn.kind !== 'slow') {
      const status = Number(drawn.kind);
      const answer: Answer = { status, body: { error: 'injected' }, fault: `random:${drawn.kind}` };
      if (status === 429) answer.headers = { 'retry-after': String(faults.retryAfterSeconds ?? 1) };
      finish(res, entry, answer, 0);
      return;
    }
    // Processed now, answered late: a slow server still applies the change.
    const answer = answerApi(req, method, path, text);
    let delayMs = 0;
    if (script?.delayMs !== undefined) {
      delayMs = script.delayMs;
      answer.fault ??= 'script:delay';
    } else if (drawn?.kind === 'slow') {
      delayMs = faults.slowMs ?? 15_000;
      answer.fault ??= 'random:slow';
    }
    finish(res, entry, answer, delayMs);
  }

  function finish(res: ServerResponse, entry: SandboxRequest, answer: Answer, delayMs: number): void {
    entry.status = answer.status;
    if (answer.fault !== undefined) entry.fault = answer.fault;
    if (delayMs > 0) later(delayMs, () => send(res, answer));
    else send(res, answer);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) {
        send(res, { status: 413, body: { error: 'body-too-large' } });
        return;
      }
      try {
        handle(req, res, chunks.length === 0 ? '' : Buffer.concat(chunks).toString('utf8'));
      } catch {
        send(res, { status: 500, body: { error: 'sandbox-failure' } });
      }
    });
  });

  // Idle keep-alive sockets live 65 s, as behind a typical API load balancer (60 s idle):
  // Node's 5 s default would reset pooled sockets of a client that pauses between bursts.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4010, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const sandbox: Sandbox = {
    url,
    port,
    get apiKey() {
      return apiKey;
    },
    setApiKey(key) {
      apiKey = key;
    },
    setFaults,
    script(...list) {
      for (const fault of list) scripted.push({ ...fault, remaining: fault.times ?? 1 });
    },
    seed,
    contacts: () => structuredClone([...store.values()]),
    contact: (id) => {
      const contact = store.get(id);
      return contact === undefined ? undefined : structuredClone(contact);
    },
    requests: () => log.slice(),
    reset,
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  if (!options.quiet) process.stderr.write(`ClearTalk sandbox on ${url} (x-api-key: ${apiKey})\n`);
  return sandbox;
}

/** Validates a fault mix (shares in [0,1], adding up to at most 1). */
function parseFaults(input: unknown): SandboxFaults {
  const parsed = SandboxFaultsSchema.parse(input);
  return Object.fromEntries(
    Object.entries(parsed).filter(([, value]) => value !== undefined),
  ) as SandboxFaults;
}

function emptyContact(id: number, userId: number, stamp: string): Contact {
  const contact: Record<string, unknown> = { id, userId };
  for (const field of CONTACT_STRING_FIELDS) contact[field] = null;
  contact.customField = null;
  contact.createdAt = stamp;
  contact.updatedAt = stamp;
  return contact as Contact;
}

/**
 * The contact as JSON text at this moment: a replayed or late answer must show the contact as
 * this request left it, not as later requests changed the stored object (`send` writes a string
 * body as is, so this costs no second serialisation).
 */
function snapshot(contact: Contact): string {
  return JSON.stringify(contact);
}

function applyPatch(contact: Contact, patch: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    // customField is replaced whole, not merged (see the module comment).
    (contact as Record<string, unknown>)[field] = field === 'customField' ? { ...(value as object) } : value;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function fingerprintOf(method: string, path: string, text: string): string {
  let canonical = text;
  try {
    canonical = JSON.stringify(sortKeys(JSON.parse(text)));
  } catch {
    // Not JSON: the raw text is the fingerprint.
  }
  return createHash('sha256').update(`${method} ${path}\n${canonical}`).digest('base64');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

function fromJsonFault(json: z.infer<typeof ScriptedFaultJsonSchema>): ScriptedFault {
  const { pathRegex, ...rest } = json;
  const fault: ScriptedFault = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined) (fault as Record<string, unknown>)[key] = value;
  }
  if (pathRegex !== undefined) fault.path = new RegExp(pathRegex);
  return fault;
}

async function readSeedFile(file: string): Promise<Array<Partial<Contact> & { id: number }>> {
  const parsed = SeedSchema.parse(JSON.parse(await readFile(file, 'utf8')));
  return (Array.isArray(parsed) ? parsed : parsed.contacts) as Array<Partial<Contact> & { id: number }>;
}

/** mulberry32: a tiny seeded PRNG, so a fault mix replays the same way on every run. */
export function createPrng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
