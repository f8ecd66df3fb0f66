import { randomUUID } from 'node:crypto';
import { compileWhenHot } from '../compiled-schema.js';
import { describeIssues, ValidationError } from '../errors.js';
import { PACKAGE_VERSION } from '../version.js';
import {
  ClearTalkAuthError,
  ClearTalkError,
  ClearTalkInvalidResponseError,
  ClearTalkPermanentError,
  ClearTalkRetryableError,
  InvalidContactIdError,
  PERMANENT_CODES,
  RETRYABLE_CODES,
} from './errors.js';
import { computeBackoffMs, isRetryableNetworkCode, isRetryableStatus, parseRetryAfterMs } from './retry.js';
import {
  type Contact,
  type ContactPatch,
  ContactPatchSchema,
  ContactSchema,
  isContactId,
} from './schemas.js';
import { createHttpTransport } from './transport.js';

/** What the client reports before each retry (for metrics; never values). */
export interface RetryInfo {
  /** The attempt that just failed (1-based, every request sent counts). */
  attempt: number;
  /** The wait before the next attempt; 0 for the immediate auth and stale-socket retries. */
  delayMs: number;
  /** `http-<status>`, a Node error code such as `ECONNRESET`, `timeout`, `auth` or `stale-socket`. */
  reason: string;
  status?: number;
}

export interface ClearTalkClientOptions {
  /** e.g. `https://api.cleartalk.ai` (CLEARTALK_BASE_URL). */
  baseUrl: string;
  /** Returns the API key; called with `forceRefresh: true` once after a 401/403. */
  getApiKey: (options: { forceRefresh: boolean }) => Promise<string>;
  /** Per-attempt timeout. @default 10_000 */
  timeoutMs?: number;
  /** Attempts per call, the first included. @default 6 */
  maxAttempts?: number;
  /** Backoff base. @default 250 */
  baseDelayMs?: number;
  /** Backoff cap. @default 20_000 */
  maxDelayMs?: number;
  /** Cap on a `Retry-After` wait. @default 60_000 */
  maxRetryAfterMs?: number;
  /** @default setTimeout-based */
  sleep?: (ms: number) => Promise<void>;
  /** Epoch ms; the clock `deadlineMs` is measured on. @default Date.now */
  now?: () => number;
  /** @default Math.random */
  random?: () => number;
  /** @default `cleartalk-contact-sync/<package version>` */
  userAgent?: string;
  /** Called before every retry (for metrics). */
  onRetry?: (info: RetryInfo) => void;
  /**
   * Called after every attempt that failed in a way a retry might fix (5xx, 408/425/429, a timeout,
   * a network error), with the request's path: the worker's circuit breaker counts these.
   */
  onFailedAttempt?: (info: { path: string }) => void;
  /**
   * Asked before each retry of such a failure; `false` ends the call at once with that failure
   * (code `circuit-open`), so requests already in flight stop calling a ClearTalk that keeps
   * failing. @default always retry
   */
  retryGate?: () => boolean;
}

export interface RequestOptions {
  /** Absolute epoch ms on the `now` clock; no attempt runs and no wait sleeps past it. */
  deadlineMs?: number;
  /** Sent as `Idempotency-Key`, the same on every attempt. */
  idempotencyKey?: string;
}

export interface ClearTalkClient {
  /**
   * `PATCH /contacts/{id}` with retries; returns the whole contact.
   * @throws {InvalidContactIdError} before any request when `id` is not a positive integer
   * @throws {ValidationError} before any request when `patch` does not match `ContactPatchSchema`
   * @throws {ClearTalkPermanentError} on 404 (`contact-not-found`) or another 4xx (`rejected`)
   * @throws {ClearTalkRetryableError} when retries ran out or the deadline came first
   * @throws {ClearTalkAuthError} on 401/403 after one forced key refresh
   * @throws {ClearTalkInvalidResponseError} on a 2xx whose body is not a contact
   */
  updateContact(
    id: string,
    patch: ContactPatch,
    options: RequestOptions & { idempotencyKey: string },
  ): Promise<Contact>;
  /** `GET /contacts/{id}`; the errors of {@link ClearTalkClient.updateContact}. */
  getContact(id: string, options?: RequestOptions): Promise<Contact>;
  /**
   * `POST /contacts`; without `idempotencyKey` a random one is made per call, so the call's
   * own retries cannot create the contact twice (on a server that honours the header).
   */
  createContact(body: ContactPatch, options?: RequestOptions): Promise<Contact>;
}

const DEFAULT_USER_AGENT = `cleartalk-contact-sync/${PACKAGE_VERSION}`;
// Printable ASCII only: Node refuses other header bytes, and a jobId is at most 1024 chars.
// Checked with the length apart: a counted repetition (`{0,1023}`) made this regular expression
// cost several times more per request (it runs twice per PATCH).
const IDEMPOTENCY_KEY = /^[\x21-\x7e][\x20-\x7e]*$/;

/** Whether `key` can be sent as `Idempotency-Key` (1-1024 printable ASCII characters). */
export function isIdempotencyKey(key: string): boolean {
  return key.length <= 1024 && IDEMPOTENCY_KEY.test(key);
}
// A short machine token from an error body (`{"error":"invalid_email"}`) is safe to repeat;
// free text is not, since a server may echo the submitted values back.
const REASON_TOKEN = /^[A-Za-z0-9_.:-]{1,64}$/;

// Every request validates its patch and its answer: zod's compiled fast path once hot.
const patchSchema = compileWhenHot(ContactPatchSchema);
const contactSchema = compileWhenHot(ContactSchema);

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface Call {
  method: 'GET' | 'PATCH' | 'POST';
  path: string;
  body: string | undefined;
  idempotencyKey: string | undefined;
  deadlineMs: number | undefined;
}

/**
 * Creates a ClearTalk API client on its own HTTP/1.1 transport (./transport.ts): one pool of
 * keep-alive connections per client, a per-attempt wall-clock timeout, retries with capped exponential backoff
 * and full jitter that honour `Retry-After` (as a floor: the wait is the larger of it and the
 * backoff) and never wait past the caller's deadline, one forced key refresh on 401/403, and
 * one immediate retry when a reused keep-alive socket turns out dead (a Lambda thawed after a
 * long freeze). It connects to ClearTalk directly: proxy variables (`HTTPS_PROXY`...) are not read.
 * @throws {ConfigError} when `baseUrl` is not an http(s) URL
 */
export function createClearTalkClient(options: ClearTalkClientOptions): ClearTalkClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 6);
  const baseDelayMs = options.baseDelayMs ?? 250;
  const maxDelayMs = options.maxDelayMs ?? 20_000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
  const sleep = options.sleep ?? defaultSleep;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const { getApiKey, onRetry, onFailedAttempt, retryGate } = options;

  const transport = createHttpTransport(options.baseUrl);
  const userAgent = options.userAgent ?? DEFAULT_USER_AGENT;

  function sendOnce(call: Call, apiKey: string, attemptTimeoutMs: number) {
    const headers: Record<string, string> = {
      'User-Agent': userAgent,
      Accept: 'application/json',
      'x-api-key': apiKey,
    };
    if (call.body !== undefined) headers['Content-Type'] = 'application/json';
    if (call.idempotencyKey !== undefined) headers['Idempotency-Key'] = call.idempotencyKey;
    return transport.send({
      method: call.method,
      path: call.path,
      headers,
      body: call.body,
      timeoutMs: attemptTimeoutMs,
    });
  }

  function deadlineError(
    call: Call,
    attempts: number,
    last: ClearTalkError | undefined,
  ): ClearTalkRetryableError {
    return new ClearTalkRetryableError(
      `${call.method} ${call.path}: stopped after ${attempts} attempt(s) because the next one would pass the deadline`,
      { code: RETRYABLE_CODES.deadlineExceeded, ...statusOf(last), cause: last },
    );
  }

  async function execute(call: Call): Promise<Contact> {
    const label = `${call.method} ${call.path}`;
    let apiKey = await getApiKey({ forceRefresh: false });
    let attempt = 0;
    let counted = 0;
    let authRefreshed = false;
    let staleSocketRetried = false;
    let lastFailure: ClearTalkError | undefined;

    for (;;) {
      let attemptTimeoutMs = timeoutMs;
      if (call.deadlineMs !== undefined) {
        const remaining = call.deadlineMs - now();
        if (remaining <= 0) throw deadlineError(call, attempt, lastFailure);
        // The attempt must end before the deadline too, not only the waits.
        attemptTimeoutMs = Math.min(timeoutMs, remaining);
      }
      attempt += 1;
      counted += 1;
      const outcome = await sendOnce(call, apiKey, attemptTimeoutMs);

      let failure: ClearTalkRetryableError;
      let reason: string;
      let retryAfterMs: number | undefined;
      if (outcome.ok) {
        const { status } = outcome;
        if (status >= 200 && status < 300) return parseContact(label, status, outcome.body);
        if (status === 401 || status === 403) {
          if (!authRefreshed) {
            // The key may have been rotated since it was cached: fetch it again, once.
            authRefreshed = true;
            counted -= 1;
            onRetry?.({ attempt, delayMs: 0, reason: 'auth', status });
            apiKey = await getApiKey({ forceRefresh: true });
            continue;
          }
          throw new ClearTalkAuthError(
            `${label}: ClearTalk answered ${status} with a freshly fetched API key; check the key in Secrets Manager`,
            { status },
          );
        }
        if (!isRetryableStatus(status)) throw permanentError(label, status, outcome.body);
        failure = new ClearTalkRetryableError(`${label}: ClearTalk answered ${status}`, { status });
        reason = `http-${status}`;
        retryAfterMs = parseRetryAfterMs(outcome.retryAfter, now());
      } else {
        const { error } = outcome;
        if (!isRetryableNetworkCode(error.code)) {
          throw new ClearTalkError(
            `${label}: the request could not be made (${error.code ?? error.message})`,
            {
              code: 'request-failed',
              retryable: false,
              cause: error,
            },
          );
        }
        if (
          !staleSocketRetried &&
          error.reusedSocket &&
          (error.code === 'ECONNRESET' || error.code === 'EPIPE')
        ) {
          // A keep-alive socket that died while the Lambda was frozen: the request never
          // reached the server, so one immediate retry on a fresh socket is the fix.
          staleSocketRetried = true;
          counted -= 1;
          onRetry?.({ attempt, delayMs: 0, reason: 'stale-socket' });
          continue;
        }
        reason = error.code === 'ETIMEDOUT' ? 'timeout' : (error.code ?? 'network');
        failure = new ClearTalkRetryableError(`${label}: ${reason === 'timeout' ? 'timed out' : reason}`, {
          cause: error,
        });
      }
      lastFailure = failure;
      onFailedAttempt?.({ path: call.path });

      if (counted >= maxAttempts) {
        throw new ClearTalkRetryableError(
          `${label}: failed after ${attempt} attempt(s), last: ${failure.message}`,
          {
            code: RETRYABLE_CODES.retriesExhausted,
            ...statusOf(failure),
            cause: failure,
          },
        );
      }
      if (retryGate !== undefined && !retryGate()) throw circuitOpenError(label, attempt, failure);
      const backoffMs = computeBackoffMs(counted, { baseMs: baseDelayMs, capMs: maxDelayMs, random });
      const delayMs =
        retryAfterMs === undefined ? backoffMs : Math.max(backoffMs, Math.min(retryAfterMs, maxRetryAfterMs));
      if (call.deadlineMs !== undefined && now() + delayMs >= call.deadlineMs) {
        throw deadlineError(call, attempt, failure);
      }
      onRetry?.({ attempt, delayMs, reason, ...statusOf(failure) });
      await sleep(delayMs);
      // Asked again after the wait: the breaker may have opened meanwhile.
      if (retryGate !== undefined && !retryGate()) throw circuitOpenError(label, attempt, failure);
    }
  }

  function contactPath(id: string): string {
    if (!isContactId(id)) {
      // The id is an identifier, not contact data, but keep it short in case it is junk.
      throw new InvalidContactIdError(
        `contact id ${JSON.stringify(id.slice(0, 40))} is not a positive integer; ClearTalk contact ids are numbers`,
      );
    }
    return `/contacts/${id}`;
  }

  function encodePatch(patch: ContactPatch, what: string): string {
    const parsed = patchSchema.safeParse(patch);
    if (!parsed.success) {
      const issues = describeIssues(parsed.error.issues);
      throw new ValidationError(`${what} is not a valid ClearTalk contact patch: ${issues.join('; ')}`, {
        code: 'invalid-patch',
        issues,
      });
    }
    return JSON.stringify(parsed.data);
  }

  function checkIdempotencyKey(key: string | undefined): string | undefined {
    if (key !== undefined && !isIdempotencyKey(key)) {
      throw new ValidationError(
        'the Idempotency-Key must be 1-1024 printable ASCII characters (hash longer or non-ASCII job ids)',
        { code: 'invalid-idempotency-key' },
      );
    }
    return key;
  }

  return {
    updateContact(id, patch, requestOptions) {
      return run(() => ({
        method: 'PATCH',
        path: contactPath(id),
        body: encodePatch(patch, 'the patch'),
        idempotencyKey: checkIdempotencyKey(requestOptions.idempotencyKey),
        deadlineMs: requestOptions.deadlineMs,
      }));
    },
    getContact(id, requestOptions = {}) {
      return run(() => ({
        method: 'GET',
        path: contactPath(id),
        body: undefined,
        idempotencyKey: checkIdempotencyKey(requestOptions.idempotencyKey),
        deadlineMs: requestOptions.deadlineMs,
      }));
    },
    createContact(body, requestOptions = {}) {
      return run(() => ({
        method: 'POST',
        path: '/contacts',
        body: encodePatch(body, 'the new contact'),
        idempotencyKey: checkIdempotencyKey(requestOptions.idempotencyKey) ?? randomUUID(),
        deadlineMs: requestOptions.deadlineMs,
      }));
    },
  };

  // Validation errors surface as rejected promises, like every other failure of a call.
  async function run(build: () => Call): Promise<Contact> {
    return execute(build());
  }
}

/** The failure of a call the caller's `retryGate` stopped (its circuit breaker is open). */
function circuitOpenError(label: string, attempts: number, last: ClearTalkError): ClearTalkRetryableError {
  return new ClearTalkRetryableError(
    `${label}: not retried after ${attempts} attempt(s), the circuit breaker is open; last: ${last.message}`,
    { code: RETRYABLE_CODES.circuitOpen, ...statusOf(last), cause: last },
  );
}

function statusOf(error: ClearTalkError | undefined): { status?: number } {
  return error?.status === undefined ? {} : { status: error.status };
}

function parseContact(label: string, status: number, text: string): Contact {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ClearTalkInvalidResponseError(
      `${label}: ClearTalk answered ${status} with a body that is not JSON`,
      {
        status,
      },
    );
  }
  const parsed = contactSchema.safeParse(data);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error.issues);
    throw new ClearTalkInvalidResponseError(
      `${label}: ClearTalk answered ${status} with a body that is not a contact: ${issues.join('; ')}`,
      { status, issues },
    );
  }
  return parsed.data;
}

function permanentError(label: string, status: number, text: string): ClearTalkPermanentError {
  const token = reasonToken(text);
  const suffix = token === undefined ? '' : ` (${token})`;
  if (status === 404) {
    return new ClearTalkPermanentError(
      `${label}: ClearTalk answered 404, the contact does not exist${suffix}`,
      {
        code: PERMANENT_CODES.contactNotFound,
        status,
      },
    );
  }
  return new ClearTalkPermanentError(`${label}: ClearTalk rejected the request with ${status}${suffix}`, {
    code: PERMANENT_CODES.rejected,
    status,
  });
}

function reasonToken(text: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text);
    if (typeof body !== 'object' || body === null) return undefined;
    for (const key of ['error', 'code', 'reason']) {
      const value = (body as Record<string, unknown>)[key];
      if (typeof value === 'string' && REASON_TOKEN.test(value)) return value;
    }
  } catch {
    // Not JSON: nothing safe to quote.
  }
  return undefined;
}
