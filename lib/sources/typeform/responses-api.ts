import { type HttpFetch, sendWithRetry } from '../../backfill/http.js';
import type { Clock, Pacer, Sleep } from '../../backfill/pacing.js';
import { ConfigError, DependencyError, describeIssues, ValidationError } from '../../errors.js';
import * as z from '../../zod.js';

/**
 * Reader of the Typeform Responses API (`GET {base}/forms/{id}/responses`), page by page.
 *
 * Pagination: newest first (the API's default order) with the `before` token cursor, inside a
 * FIXED `since`/`until` window. Why this can never skip a response:
 * - `before=<token>` is exclusive and follows the order Typeform processed responses in, so
 *   "the last token of this page" is an exact position: the next page starts right after it;
 *   no timestamp arithmetic, so responses sharing a second are neither dropped nor split.
 * - The window's `until` is fixed when a sweep starts, so new submissions cannot shift pages
 *   under the cursor; they belong to the next sweep.
 * - We never page with `after`: the reference does not say in which order `after` returns
 *   pages, and newest-first with a page-size cap would jump over the gap between the cursor and
 *   the newest page.
 * - The API may not list responses of the last ~30 minutes yet; the orchestrator re-reads an
 *   overlap of at least 30 minutes behind the previous sweep's `until` (PLATFORMS.md).
 */

const nonEmptyString = z.string().check(z.minLength(1));

/** The envelope we rely on; everything else is passed through to the mapper untouched. */
export const TypeformApiItemSchema = z.looseObject({
  token: nonEmptyString,
  submitted_at: nonEmptyString,
});
export type TypeformApiItem = z.infer<typeof TypeformApiItemSchema>;

const isApiItem = (value: unknown): value is TypeformApiItem =>
  TypeformApiItemSchema.safeParse(value).success;

// Built once for both counts (zod schemas are immutable; cold start).
const count = z.number().check(z.int(), z.gte(0));
const ResponsesPageSchema = z.looseObject({
  total_items: count,
  page_count: count,
  // Checked, not copied: a page holds 1000 responses, and a copy of each would double the
  // memory of every page (the benchmark's peak-RSS target).
  items: z.array(z.custom<TypeformApiItem>(isApiItem, 'an item needs a token and a submitted_at')),
});

/** One page of the Responses API. */
export interface TypeformPage {
  readonly items: readonly TypeformApiItem[];
  /** Responses in the window still to read, this page included (Typeform's `total_items`). */
  readonly totalItems: number;
  /** The cursor for the page after this one: the token of this page's last (oldest) item. */
  readonly nextBefore: string | undefined;
  /** True when this is the window's last page. */
  readonly last: boolean;
}

export interface ReadTypeformOptions {
  /** `TYPEFORM_API_BASE_URL` (`https://api.eu.typeform.com` for EU accounts). */
  readonly baseUrl: string;
  /** Returns the API token; `forceRefresh` after a 401 (the secret may have been rotated). */
  readonly getToken: (options?: { forceRefresh?: boolean }) => Promise<string>;
  readonly formId: string;
  /** Inclusive lower bound on `submitted_at` (ISO). */
  readonly since?: string | undefined;
  /** Inclusive upper bound on `submitted_at` (ISO). */
  readonly until?: string | undefined;
  /** Resume below this token (exclusive). */
  readonly before?: string | undefined;
  /** @default 1000 (the API's maximum) */
  readonly pageSize?: number;
  /** Stop after this many items (the last page is shortened to fit). */
  readonly maxItems?: number;
  readonly fetch: HttpFetch;
  /** Shared by every reader of one Typeform account: 2 requests/s. */
  readonly pacer: Pacer;
  readonly sleep: Sleep;
  readonly now: Clock;
  readonly random: () => number;
  readonly maxAttempts?: number;
  readonly timeoutMs?: number;
  /** Time left before the run's deadline (no request outlives it). */
  readonly remainingMs?: () => number;
}

export const TYPEFORM_MAX_PAGE_SIZE = 1_000;

/** Typeform wants `since`/`until` as UTC to the second with a `T` (`2020-03-20T14:00:59`). */
export function formatTypeformTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new ValidationError(`not a timestamp: ${iso}`, { code: 'invalid-request' });
  return new Date(ms).toISOString().slice(0, 19);
}

/**
 * Reads a form's responses in the window, newest first, one page per iteration.
 * @throws {ConfigError} when the token is refused (401/403) or the form does not exist (404)
 * @throws {ValidationError} code `malformed-page` when a page is not the documented shape
 * @throws {DependencyError} when Typeform keeps failing (429/5xx/network) past the attempts
 */
export async function* readTypeformResponses(options: ReadTypeformOptions): AsyncGenerator<TypeformPage> {
  const pageSize = Math.min(options.pageSize ?? TYPEFORM_MAX_PAGE_SIZE, TYPEFORM_MAX_PAGE_SIZE);
  let before = options.before;
  let read = 0;
  const base = options.baseUrl.replace(/\/+$/, '');
  for (;;) {
    const size = options.maxItems === undefined ? pageSize : Math.min(pageSize, options.maxItems - read);
    if (size <= 0) return;
    const params = new URLSearchParams({ page_size: String(size) });
    if (options.since !== undefined) params.set('since', formatTypeformTime(options.since));
    if (options.until !== undefined) params.set('until', formatTypeformTime(options.until));
    if (before !== undefined) params.set('before', before);
    const url = `${base}/forms/${encodeURIComponent(options.formId)}/responses?${params}`;
    const body = await fetchPage(url, options);
    const page = parsePage(body, options.formId);
    read += page.items.length;
    const lastItem = page.items.at(-1);
    // page_count counts the pages left in the window, this one included: 1 means "this is all".
    const last = page.items.length === 0 || (page.page_count <= 1 && page.items.length >= page.total_items);
    yield { items: page.items, totalItems: page.total_items, nextBefore: lastItem?.token, last };
    if (last) return;
    before = lastItem?.token;
  }
}

async function fetchPage(url: string, options: ReadTypeformOptions): Promise<string> {
  let refreshed = false;
  for (;;) {
    const token = await options.getToken(refreshed ? { forceRefresh: true } : {});
    const result = await sendWithRetry(
      { url, method: 'GET', headers: { authorization: `Bearer ${token}`, accept: 'application/json' } },
      {
        fetch: options.fetch,
        sleep: options.sleep,
        now: options.now,
        random: options.random,
        pacer: options.pacer,
        dependency: 'typeform-api',
        ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.remainingMs === undefined ? {} : { remainingMs: options.remainingMs }),
      },
    );
    if (result.status === 200) return result.text;
    if ((result.status === 401 || result.status === 403) && !refreshed) {
      refreshed = true;
      continue;
    }
    if (result.status === 401 || result.status === 403) {
      throw new ConfigError([
        `TYPEFORM_API_TOKEN_SECRET_ID: Typeform refused the token (HTTP ${result.status}); it needs the responses:read scope`,
      ]);
    }
    if (result.status === 404) {
      throw new ConfigError([
        `form ${options.formId}: not found (HTTP 404); check the form id and TYPEFORM_API_BASE_URL (EU accounts use https://api.eu.typeform.com)`,
      ]);
    }
    throw new DependencyError(
      'typeform-api',
      `Typeform answered HTTP ${result.status} for form ${options.formId}`,
      {
        retryable: false,
      },
    );
  }
}

function parsePage(text: string, formId: string): z.infer<typeof ResponsesPageSchema> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ValidationError(`Typeform returned a page of form ${formId} that is not JSON`, {
      code: 'malformed-page',
      cause: error,
    });
  }
  const parsed = ResponsesPageSchema.safeParse(json);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error.issues);
    throw new ValidationError(
      `Typeform returned a malformed page of form ${formId}: ${issues.slice(0, 3).join('; ')}`,
      {
        code: 'malformed-page',
        issues,
      },
    );
  }
  return parsed.data;
}
