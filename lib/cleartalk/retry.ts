/**
 * Pure retry arithmetic for the ClearTalk client (no clock, no randomness of its own: both are
 * passed in so tests are deterministic).
 */

/**
 * Capped exponential backoff with full jitter (AWS Builders' Library): a uniform wait in
 * `[0, min(capMs, baseMs * 2^(attempt-1)))`, where `attempt` is the attempt that just failed (1-based).
 */
export function computeBackoffMs(
  attempt: number,
  opts: { baseMs: number; capMs: number; random: () => number },
): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  // 2 ** exponent grows to Infinity for absurd attempts; Math.min keeps the cap either way.
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** exponent);
  const share = Math.min(Math.max(opts.random(), 0), 1);
  return Math.floor(share * Math.max(0, ceiling));
}

// RFC 9110 HTTP-date forms: IMF-fixdate, the obsolete RFC 850 form and asctime. Checked
// before Date.parse, which would happily read "7" or "2026" as a date.
const HTTP_DATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? +(?:\d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4}|[A-Za-z]{3} +\d{1,2}) +\d{2}:\d{2}:\d{2}(?: +GMT| +\d{4})?$/;
const DELTA_SECONDS = /^-?\d+(?:\.\d+)?$/;

/**
 * Reads a `Retry-After` header as a wait in milliseconds: delta-seconds (not milliseconds) or
 * an HTTP date relative to `now` (epoch ms). A negative value or a past date gives 0; a
 * missing or unreadable header gives `undefined`.
 */
export function parseRetryAfterMs(header: string | undefined, now: number): number | undefined {
  const text = header?.trim();
  if (!text) return undefined;
  if (DELTA_SECONDS.test(text)) {
    const seconds = Number(text);
    return Number.isFinite(seconds) ? Math.max(0, Math.ceil(seconds * 1000)) : undefined;
  }
  if (!HTTP_DATE.test(text)) return undefined;
  // HTTP dates are always GMT; the asctime form omits the zone, which Date.parse would read as local time.
  const at = Date.parse(text.endsWith('GMT') ? text : `${text} GMT`);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

// 501 (Not Implemented) and 505 (HTTP Version Not Supported) will not change on a retry;
// every other 5xx is the server's own trouble, which usually passes.
const PERMANENT_SERVER_STATUSES: ReadonlySet<number> = new Set([501, 505]);
const RETRYABLE_CLIENT_STATUSES: ReadonlySet<number> = new Set([408, 425, 429]);

/** Whether an HTTP status can succeed when the same request is sent again later: 408, 425, 429 and 5xx (not 501/505). */
export function isRetryableStatus(status: number): boolean {
  if (RETRYABLE_CLIENT_STATUSES.has(status)) return true;
  return status >= 500 && status <= 599 && !PERMANENT_SERVER_STATUSES.has(status);
}

/** Node error codes of failures that may pass on a new attempt (reset, refused, DNS, hang-up, timeout). */
export const RETRYABLE_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/** Whether a transport failure (by Node error code) is worth another attempt. */
export function isRetryableNetworkCode(code: string | undefined): boolean {
  return code !== undefined && RETRYABLE_NETWORK_CODES.has(code);
}
