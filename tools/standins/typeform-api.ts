import {
  createFaultQueue,
  type Fault,
  fakePerson,
  isoSecond,
  json,
  type LoggedRequest,
  type Reply,
  startJsonServer,
} from './common.js';

/**
 * A local stand-in for the Typeform Responses API (`GET /forms/{id}/responses`), faithful to what
 * the backfill relies on (PLATFORMS.md):
 * - Bearer token checked (401 otherwise); unknown form 404.
 * - `page_size` 1..1000 (400 above); `since`/`until` inclusive, ISO to the second (with or
 *   without `Z`) or epoch seconds; `before`/`after` token cursors, exclusive, in processing order;
 *   `sort` together with `before`/`after` is a 400.
 * - Default order newest `submitted_at` first; with `before`/`after`, newest-processed first. (The
 *   reference does not say whether `after` returns oldest-first; we serve newest-first, which is
 *   why the reader never pages with `after`.)
 * - `{total_items, page_count, items}`: totals count what the filters leave, this page included.
 * - 2 requests/s per token enforced (429 + `Retry-After: 1`) when `rateLimitPerSecond` is set.
 * - A response is listed only once `visibleAt` has passed: the real API may not list responses of
 *   the last ~30 minutes (`visibilityLagMs`).
 * - Injectable faults: a status (429 with Retry-After, 5xx), a malformed page.
 * - Serve it as the EU base too: start a second instance (`region: 'eu'`); a form asked at the
 *   wrong region answers empty results, not an error, as the real API does.
 */

export interface TypeformStandinOptions {
  /** The personal access token requests must carry. */
  readonly token: string;
  /** Forms and how many responses to generate for each. */
  readonly forms: Record<string, { readonly count: number }>;
  /** Forms that exist but hold nothing here (the other region's forms). */
  readonly emptyForms?: readonly string[];
  /** `submitted_at` of the newest generated response. @default now() - 1 hour */
  readonly newestAt?: number;
  /** Gap between generated responses. Below 1000 several responses share a second. @default 60_000 */
  readonly spacingMs?: number;
  /** Delay between submission and being listed. @default 0 */
  readonly visibilityLagMs?: number;
  /** Requests per second per token; beyond it 429. @default unlimited */
  readonly rateLimitPerSecond?: number;
  readonly seed?: number;
  /** The stand-in's clock (tests pass their fake clock). @default Date.now */
  readonly now?: () => number;
  readonly port?: number;
  readonly region?: 'us' | 'eu';
}

/** One stored response: enough to build the API item and the webhook payload on demand. */
interface StoredResponse {
  readonly formId: string;
  readonly token: string;
  readonly index: number;
  readonly submittedAt: number;
  readonly visibleAt: number;
}

export interface TypeformStandin {
  readonly url: string;
  readonly region: 'us' | 'eu';
  /** Every request, oldest first. */
  readonly requests: LoggedRequest[];
  /** Makes the next request(s) fail. */
  inject(fault: Fault): void;
  /** Adds a response submitted at `submittedAt`, listed from `visibleAt` on (default: at once). */
  addResponse(formId: string, submittedAt: number, visibleAt?: number): string;
  /** Tokens of a form's responses, in processing order. */
  tokens(formId: string): string[];
  /** The API item of one response, as the Responses API lists it. */
  apiItem(formId: string, token: string): Record<string, unknown>;
  /** The webhook body Typeform would have sent for the same response. */
  webhookPayload(formId: string, token: string): Record<string, unknown>;
  stop(): Promise<void>;
}

const MAX_PAGE_SIZE = 1_000;

/** Starts the stand-in on 127.0.0.1. */
export async function startTypeformApiStandin(options: TypeformStandinOptions): Promise<TypeformStandin> {
  const now = options.now ?? Date.now;
  const seed = options.seed ?? 1;
  const spacing = options.spacingMs ?? 60_000;
  const lag = options.visibilityLagMs ?? 0;
  const newestAt = options.newestAt ?? now() - 3_600_000;
  const store = new Map<string, StoredResponse[]>();
  const byToken = new Map<string, StoredResponse>();
  let counter = 0;

  const add = (formId: string, submittedAt: number, visibleAt: number): string => {
    const index = counter++;
    const token = `${formId.toLowerCase()}${index.toString(36).padStart(6, '0')}${(seed % 997).toString(36)}`;
    const response: StoredResponse = { formId, token, index, submittedAt, visibleAt };
    const list = store.get(formId) ?? [];
    list.push(response);
    store.set(formId, list);
    byToken.set(`${formId}|${token}`, response);
    return token;
  };
  for (const formId of options.emptyForms ?? []) store.set(formId, []);
  for (const [formId, { count }] of Object.entries(options.forms)) {
    store.set(formId, store.get(formId) ?? []);
    for (let i = 0; i < count; i++) {
      const submittedAt = newestAt - (count - 1 - i) * spacing;
      add(formId, submittedAt, submittedAt + lag);
    }
  }

  const requests: LoggedRequest[] = [];
  const faults = createFaultQueue();
  const accepted = new Map<string, number[]>();

  const handle = ({
    method,
    url,
    headers,
  }: {
    method: string;
    url: URL;
    headers: Record<string, unknown>;
  }): Reply => {
    const match = /^\/forms\/([^/]+)\/responses$/.exec(url.pathname);
    if (method !== 'GET' || !match)
      return json(404, { code: 'NOT_FOUND', description: 'Endpoint not found' }, 'not-found');
    if (headers.authorization !== `Bearer ${options.token}`) {
      return json(
        401,
        {
          code: 'AUTHENTICATION_FAILED',
          description: 'Authentication credentials not found on the Request Headers',
        },
        'unauthorized',
      );
    }
    if (options.rateLimitPerSecond !== undefined) {
      const at = now();
      const recent = (accepted.get(options.token) ?? []).filter((t) => t > at - 1_000);
      if (recent.length >= options.rateLimitPerSecond) {
        return json(429, { code: 'RATE_LIMITED', description: 'Too many requests' }, 'rate-limited', {
          'retry-after': '1',
        });
      }
      recent.push(at);
      accepted.set(options.token, recent);
    }
    const fault = faults.take();
    if (fault?.kind === 'status') {
      return json(
        fault.status,
        { code: 'FAULT', description: `injected ${fault.status}` },
        `fault:${fault.status}`,
        fault.retryAfter === undefined ? undefined : { 'retry-after': fault.retryAfter },
      );
    }
    if (fault?.kind === 'malformed') {
      // Truncated mid-item, as a proxy cutting the body short would leave it.
      return {
        status: 200,
        body: '{"total_items":3,"page_count":1,"items":[{"token":"abc","submitted_at":',
        outcome: 'fault:malformed',
      };
    }
    const formId = decodeURIComponent(match[1] ?? '');
    const all = store.get(formId);
    if (!all) return json(404, { code: 'FORM_NOT_FOUND', description: 'Form not found' }, 'form-not-found');
    return list(formId, all, url.searchParams);
  };

  const list = (formId: string, all: StoredResponse[], params: URLSearchParams): Reply => {
    const pageSize = params.has('page_size') ? Number(params.get('page_size')) : 25;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      return json(
        400,
        { code: 'VALIDATION_ERROR', description: 'page_size must be between 1 and 1000' },
        'bad-request',
      );
    }
    const before = params.get('before');
    const after = params.get('after');
    if ((before !== null || after !== null) && params.has('sort')) {
      return json(
        400,
        { code: 'VALIDATION_ERROR', description: 'before/after cannot be used with sort' },
        'bad-request',
      );
    }
    const since = parseTime(params.get('since'));
    const until = parseTime(params.get('until'));
    if (since === null || until === null) {
      return json(
        400,
        { code: 'VALIDATION_ERROR', description: 'since/until must be ISO 8601 or epoch seconds' },
        'bad-request',
      );
    }
    const at = now();
    let items = all.filter(
      (r) =>
        r.visibleAt <= at &&
        (since === undefined || Math.floor(r.submittedAt / 1_000) * 1_000 >= since) &&
        (until === undefined || Math.floor(r.submittedAt / 1_000) * 1_000 <= until),
    );
    const cursor = before ?? after;
    if (cursor !== null) {
      const position = byToken.get(`${formId}|${cursor}`);
      if (!position)
        return json(400, { code: 'VALIDATION_ERROR', description: 'unknown token' }, 'bad-request');
      items = items.filter((r) => (before !== null ? r.index < position.index : r.index > position.index));
      // Stored in processing order already: newest-processed first is the reverse.
      items.reverse();
    } else {
      items.sort((a, b) => b.submittedAt - a.submittedAt || b.index - a.index);
    }
    const total = items.length;
    const page = items.slice(0, pageSize).map((r) => buildItem(r));
    return json(
      200,
      { total_items: total, page_count: Math.max(1, Math.ceil(total / pageSize)), items: page },
      'ok',
    );
  };

  const buildItem = (r: StoredResponse): Record<string, unknown> => {
    const person = fakePerson(r.index, seed);
    const answers: Record<string, unknown>[] = [
      {
        field: { id: 'fFirst', type: 'short_text', ref: 'first_name' },
        type: 'text',
        text: person.firstName,
      },
      { field: { id: 'fLast', type: 'short_text', ref: 'last_name' }, type: 'text', text: person.lastName },
      { field: { id: 'fEmail', type: 'email', ref: 'email' }, type: 'email', email: person.email },
      {
        field: { id: 'fPhone', type: 'phone_number', ref: 'phone' },
        type: 'phone_number',
        phone_number: person.phone,
      },
      {
        field: { id: 'fPlan', type: 'multiple_choice', ref: 'plan' },
        type: 'choice',
        choice: { label: person.plan },
      },
    ];
    return {
      landing_id: r.token,
      token: r.token,
      response_id: r.token,
      landed_at: isoSecond(r.submittedAt - 90_000),
      submitted_at: isoSecond(r.submittedAt),
      metadata: {
        user_agent: 'standin',
        platform: 'other',
        referer: 'https://example.typeform.com',
        network_id: 'n',
      },
      // Every fifth respondent arrived through a link carrying their ClearTalk contact id.
      hidden: r.index % 5 === 0 ? { contact_id: String(1_000 + r.index) } : {},
      calculated: { score: r.index % 10 },
      variables: [],
      answers,
    };
  };

  const server = await startJsonServer(options.port ?? 0, handle, (entry) => requests.push(entry), now);

  return {
    url: server.url,
    region: options.region ?? 'us',
    requests,
    inject: (fault) => faults.push(fault),
    addResponse: (formId, submittedAt, visibleAt) => add(formId, submittedAt, visibleAt ?? submittedAt),
    tokens: (formId) => (store.get(formId) ?? []).map((r) => r.token),
    apiItem(formId, token) {
      const r = byToken.get(`${formId}|${token}`);
      if (!r) throw new Error(`no response ${token} in form ${formId}`);
      return buildItem(r);
    },
    webhookPayload(formId, token) {
      const r = byToken.get(`${formId}|${token}`);
      if (!r) throw new Error(`no response ${token} in form ${formId}`);
      const { landing_id: _l, response_id: _r, metadata: _m, ...item } = buildItem(r);
      return {
        event_id: `01H${r.token.toUpperCase()}`,
        event_type: 'form_response',
        form_response: {
          form_id: formId,
          ...item,
          definition: { id: formId, title: 'Stand-in form', fields: [] },
          ending: { id: 'end', ref: 'default_tys' },
        },
      };
    },
    stop: () => server.stop(),
  };
}

/** undefined = absent, null = unreadable, else epoch ms. */
function parseTime(value: string | null): number | undefined | null {
  if (value === null || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1_000;
  const text = /[zZ]|[+-]\d{2}:\d{2}$/.test(value) ? value : `${value}Z`;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? null : ms;
}
