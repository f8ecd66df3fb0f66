import {
  createFaultQueue,
  type Fault,
  fakePerson,
  json,
  type LoggedRequest,
  type Reply,
  startJsonServer,
} from './common.js';

/**
 * A local stand-in for the Shopify Admin GraphQL API, serving what the backfill asks:
 * `POST /admin/api/{YYYY-MM}/graphql.json` with `customers(first, after, query, sortKey: UPDATED_AT)`.
 * - `X-Shopify-Access-Token` checked (401 with Shopify's `[API] Invalid API key…` body).
 * - It does not parse GraphQL: it checks the document asks for `customers(` sorted by
 *   UPDATED_AT and answers from the variables (`first`, `after`, `query`), returning every field
 *   of the customer selection (id, names, defaultEmailAddress, defaultPhoneNumber, state, tags,
 *   createdAt, updatedAt, note, defaultAddress, metafield).
 * - Search `updated_at:>='…'` / `>` / `<=` / `<`, joined by AND; ascending (updatedAt, id);
 *   opaque cursors, exclusive.
 * - Cost: requested = 2 + first × nodeCost, actual = 2 + returned × nodeCost, a leaky bucket
 *   (`maximumAvailable`, `restoreRate` points/s) reported in `extensions.cost.throttleStatus`;
 *   a query costing more than the bucket holds gets `THROTTLED`, one above the single-query
 *   maximum (1000) gets `MAX_COST_EXCEEDED`, both HTTP 200 with `errors[]`, as Shopify does.
 * - Injectable faults: a status (429 + Retry-After, 5xx), THROTTLED, a malformed page.
 */

export interface ShopifyStandinOptions {
  readonly token: string;
  readonly shop: string;
  /** How many customers to generate. */
  readonly customers: number;
  /** `updatedAt` of the most recently updated customer. @default now() - 1 hour */
  readonly newestAt?: number;
  /** Gap between generated customers' updatedAt (below 1000 they share seconds). @default 60_000 */
  readonly spacingMs?: number;
  /** Points per customer node (1 for the node + 1 per nested object). @default 5 */
  readonly nodeCost?: number;
  /** @default 2000 (Standard plan bucket) */
  readonly maximumAvailable?: number;
  /** Points restored per second. @default 100 */
  readonly restoreRate?: number;
  readonly seed?: number;
  readonly now?: () => number;
  readonly port?: number;
}

interface StoredCustomer {
  readonly id: number;
  readonly createdAt: number;
  updatedAt: number;
  note: string | null;
}

export interface ShopifyStandin {
  readonly url: string;
  readonly requests: LoggedRequest[];
  inject(fault: Fault): void;
  /** Touches a customer (a note change): its updatedAt moves to `at`. */
  updateCustomer(id: number, at: number, note?: string): void;
  /** Customer ids in the order `sortKey: UPDATED_AT` returns them. */
  customerIds(): number[];
  /** The GraphQL node of one customer. */
  graphqlNode(id: number): Record<string, unknown>;
  /** The `customers/update` webhook body for the same customer state (updated_at with an offset, as webhooks carry it). */
  webhookPayload(id: number): Record<string, unknown>;
  /** The bucket now (after refilling). */
  bucket(): { currentlyAvailable: number; maximumAvailable: number; restoreRate: number };
  stop(): Promise<void>;
}

const SINGLE_QUERY_MAX_COST = 1_000;
const MAX_FIRST = 250;

/** Starts the stand-in on 127.0.0.1. */
export async function startShopifyApiStandin(options: ShopifyStandinOptions): Promise<ShopifyStandin> {
  const now = options.now ?? Date.now;
  const seed = options.seed ?? 1;
  const spacing = options.spacingMs ?? 60_000;
  const newestAt = options.newestAt ?? now() - 3_600_000;
  const nodeCost = options.nodeCost ?? 5;
  const maximumAvailable = options.maximumAvailable ?? 2_000;
  const restoreRate = options.restoreRate ?? 100;
  const customers: StoredCustomer[] = [];
  for (let i = 0; i < options.customers; i++) {
    const updatedAt = newestAt - (options.customers - 1 - i) * spacing;
    customers.push({ id: 1_000 + i, createdAt: updatedAt - 86_400_000, updatedAt, note: null });
  }
  const byId = new Map(customers.map((c) => [c.id, c]));
  // Sorted once and again only after an update: 100k customers per benchmark page add up.
  let ordered: StoredCustomer[] | undefined;
  const inUpdateOrder = () => {
    ordered ??= [...customers].sort((a, b) => a.updatedAt - b.updatedAt || a.id - b.id);
    return ordered;
  };
  let available = maximumAvailable;
  let bucketAt = now();
  const refill = () => {
    const at = now();
    available = Math.min(maximumAvailable, available + ((at - bucketAt) / 1_000) * restoreRate);
    bucketAt = at;
  };
  const throttleStatus = () => ({
    maximumAvailable,
    currentlyAvailable: Math.floor(available),
    restoreRate,
  });

  const requests: LoggedRequest[] = [];
  const faults = createFaultQueue();
  const versionPath = /^\/admin\/api\/(\d{4}-\d{2})\/graphql\.json$/;

  const handle = ({
    method,
    url,
    headers,
    body,
  }: {
    method: string;
    url: URL;
    headers: Record<string, unknown>;
    body: string;
  }): Reply => {
    if (method !== 'POST' || !versionPath.test(url.pathname))
      return json(404, { errors: 'Not Found' }, 'not-found');
    if (headers['x-shopify-access-token'] !== options.token) {
      return json(
        401,
        { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' },
        'unauthorized',
      );
    }
    const fault = faults.take();
    if (fault?.kind === 'status') {
      return json(
        fault.status,
        {
          errors:
            fault.status === 429
              ? 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.'
              : 'Internal Server Error',
        },
        `fault:${fault.status}`,
        fault.retryAfter === undefined ? undefined : { 'retry-after': fault.retryAfter },
      );
    }
    if (fault?.kind === 'malformed') {
      return json(
        200,
        { data: { customers: { pageInfo: { hasNextPage: true }, nodes: 'not-a-list' } } },
        'fault:malformed',
      );
    }
    let request: { query?: unknown; variables?: Record<string, unknown> };
    try {
      request = JSON.parse(body) as typeof request;
    } catch {
      return json(400, { errors: { query: 'Required parameter missing or invalid' } }, 'bad-request');
    }
    const query = typeof request.query === 'string' ? request.query : '';
    if (!query.includes('customers(') || !/sortKey:\s*UPDATED_AT/.test(query)) {
      return json(
        200,
        { errors: [{ message: 'the stand-in serves only customers(sortKey: UPDATED_AT)' }] },
        'unsupported',
      );
    }
    const variables = request.variables ?? {};
    const first = Number(variables.first);
    if (!Number.isInteger(first) || first < 1 || first > MAX_FIRST) {
      return json(
        200,
        { errors: [{ message: 'first must be between 1 and 250', extensions: { code: 'BAD_REQUEST' } }] },
        'bad-request',
      );
    }
    refill();
    const requested = 2 + first * nodeCost;
    const cost = (actual: number | null) => ({
      cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: throttleStatus() },
    });
    if (requested > SINGLE_QUERY_MAX_COST) {
      return json(
        200,
        {
          errors: [
            {
              message: `Query cost is ${requested}, which exceeds the single query max cost limit (${SINGLE_QUERY_MAX_COST}).`,
              extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: SINGLE_QUERY_MAX_COST },
            },
          ],
          extensions: cost(null),
        },
        'max-cost-exceeded',
      );
    }
    if (fault?.kind === 'throttled') available = Math.min(available, requested / 2);
    if (requested > available) {
      return json(
        200,
        {
          errors: [
            {
              message: 'Throttled',
              extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' },
            },
          ],
          extensions: cost(null),
        },
        'throttled',
      );
    }
    const filter = parseSearch(typeof variables.query === 'string' ? variables.query : '');
    if (filter === null) {
      return json(200, { errors: [{ message: 'unsupported search query' }] }, 'bad-request');
    }
    const after = typeof variables.after === 'string' ? decodeCursor(variables.after) : undefined;
    if (after === null)
      return json(
        200,
        { errors: [{ message: 'Invalid cursor', extensions: { code: 'BAD_REQUEST' } }] },
        'bad-request',
      );
    const sorted = inUpdateOrder().filter(
      (c) =>
        filter(Math.floor(c.updatedAt / 1_000) * 1_000) &&
        (!after || c.updatedAt > after.u || (c.updatedAt === after.u && c.id > after.id)),
    );
    const page = sorted.slice(0, first);
    const actual = 2 + page.length * nodeCost;
    available -= actual;
    const last = page.at(-1);
    return json(
      200,
      {
        data: {
          customers: {
            pageInfo: {
              hasNextPage: sorted.length > first,
              endCursor: last ? encodeCursor(last) : null,
            },
            nodes: page.map(buildNode),
          },
        },
        extensions: cost(actual),
      },
      'ok',
    );
  };

  const buildNode = (c: StoredCustomer): Record<string, unknown> => {
    const person = fakePerson(c.id, seed);
    return {
      id: `gid://shopify/Customer/${c.id}`,
      firstName: person.firstName,
      lastName: person.lastName,
      defaultEmailAddress: { emailAddress: person.email },
      defaultPhoneNumber: c.id % 4 === 0 ? null : { phoneNumber: person.phone },
      state: 'ENABLED',
      tags: ['vip', person.plan],
      createdAt: iso(c.createdAt),
      updatedAt: iso(c.updatedAt),
      note: c.note,
      defaultAddress: {
        city: person.city,
        province: null,
        country: 'United States',
        countryCodeV2: 'US',
        zip: '78701',
        phone: null,
      },
      metafield:
        c.id % 3 === 0 ? { namespace: 'cleartalk', key: 'contact_id', value: String(5_000 + c.id) } : null,
    };
  };

  const server = await startJsonServer(options.port ?? 0, handle, (entry) => requests.push(entry), now);

  return {
    url: server.url,
    requests,
    inject: (fault) => faults.push(fault),
    updateCustomer(id, at, note) {
      const c = byId.get(id);
      if (!c) throw new Error(`no customer ${id}`);
      c.updatedAt = at;
      c.note = note ?? `touched ${at}`;
      ordered = undefined;
    },
    customerIds: () =>
      [...customers].sort((a, b) => a.updatedAt - b.updatedAt || a.id - b.id).map((c) => c.id),
    graphqlNode(id) {
      const c = byId.get(id);
      if (!c) throw new Error(`no customer ${id}`);
      return buildNode(c);
    },
    webhookPayload(id) {
      const c = byId.get(id);
      if (!c) throw new Error(`no customer ${id}`);
      const node = buildNode(c) as {
        firstName: string;
        lastName: string;
        defaultEmailAddress: { emailAddress: string };
        defaultPhoneNumber: { phoneNumber: string } | null;
        defaultAddress: Record<string, unknown>;
        metafield: { namespace: string; key: string; value: string } | null;
      };
      return {
        id: c.id,
        admin_graphql_api_id: `gid://shopify/Customer/${c.id}`,
        email: node.defaultEmailAddress.emailAddress,
        first_name: node.firstName,
        last_name: node.lastName,
        phone: node.defaultPhoneNumber?.phoneNumber ?? null,
        note: c.note,
        state: 'enabled',
        verified_email: true,
        currency: 'USD',
        tags: '',
        // Webhooks carry the shop's offset (here New York, -05:00), GraphQL carries UTC.
        created_at: withOffset(c.createdAt, -5),
        updated_at: withOffset(c.updatedAt, -5),
        addresses: [],
        default_address: {
          city: node.defaultAddress.city,
          province: null,
          country: 'United States',
          country_code: 'US',
          zip: '78701',
          phone: null,
        },
        ...(node.metafield ? { metafields: [node.metafield] } : {}),
      };
    },
    bucket() {
      refill();
      return throttleStatus();
    },
    stop: () => server.stop(),
  };
}

function iso(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** `2026-11-26T10:00:00-05:00` for an instant and an hour offset. */
function withOffset(ms: number, hours: number): string {
  const local = new Date(Math.floor(ms / 1_000) * 1_000 + hours * 3_600_000).toISOString().slice(0, 19);
  const sign = hours < 0 ? '-' : '+';
  return `${local}${sign}${String(Math.abs(hours)).padStart(2, '0')}:00`;
}

function encodeCursor(c: StoredCustomer): string {
  return Buffer.from(JSON.stringify({ u: c.updatedAt, id: c.id })).toString('base64url');
}

function decodeCursor(cursor: string): { u: number; id: number } | null {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      u?: unknown;
      id?: unknown;
    };
    return typeof value.u === 'number' && typeof value.id === 'number' ? { u: value.u, id: value.id } : null;
  } catch {
    return null;
  }
}

/** `updated_at:>='…' AND updated_at:<='…'` → a predicate over epoch ms; null when unreadable. */
function parseSearch(search: string): ((ms: number) => boolean) | null {
  const text = search.trim();
  if (text === '') return () => true;
  const tests: ((ms: number) => boolean)[] = [];
  for (const term of text.split(/\s+AND\s+/)) {
    const m = /^updated_at:(>=|<=|>|<)'?([^']+)'?$/.exec(term.trim());
    if (!m) return null;
    const bound = Date.parse(m[2] ?? '');
    if (Number.isNaN(bound)) return null;
    const op = m[1];
    tests.push((ms) =>
      op === '>=' ? ms >= bound : op === '<=' ? ms <= bound : op === '>' ? ms > bound : ms < bound,
    );
  }
  return (ms) => tests.every((t) => t(ms));
}
