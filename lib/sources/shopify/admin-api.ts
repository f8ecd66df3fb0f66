import { type HttpFetch, sendWithRetry } from '../../backfill/http.js';
import { type Clock, type Sleep, shopifyCostWaitMs, type ThrottleStatus } from '../../backfill/pacing.js';
import { ConfigError, DependencyError, describeIssues, ValidationError } from '../../errors.js';
import * as z from '../../zod.js';

/**
 * Reader of Shopify customers through the Admin GraphQL API (REST is legacy for new apps):
 * `customers(first, after, query: "updated_at:>='…'", sortKey: UPDATED_AT)`, oldest change
 * first, cursor pagination. Ascending `updatedAt` means a customer changed during the sweep moves
 * behind the cursor's end and is read again later (with a new jobId): nothing is skipped.
 *
 * Pacing follows Shopify's cost bucket: after every answer we know `currentlyAvailable` and
 * `restoreRate`, and wait until the bucket holds the next query's cost before sending it; a
 * `THROTTLED` answer (HTTP 200 with an error) and a 429 are waited out.
 */

// Built once and shared by the fields below (zod schemas are immutable; cold start).
const number = z.number();
const optionalString = z.optional(z.string());
const nonEmptyString = z.string().check(z.minLength(1));

const ThrottleStatusSchema = z.object({
  maximumAvailable: number,
  currentlyAvailable: number,
  restoreRate: number,
});

const CostSchema = z.looseObject({
  requestedQueryCost: z.optional(number),
  actualQueryCost: z.nullish(number),
  throttleStatus: z.optional(ThrottleStatusSchema),
});

const GraphqlErrorSchema = z.looseObject({
  message: optionalString,
  extensions: z.optional(z.looseObject({ code: optionalString })),
});

/** The envelope we rely on per node; the rest goes to C's `ShopifyGraphqlCustomerSchema`. */
export const ShopifyNodeEnvelopeSchema = z.looseObject({
  id: nonEmptyString,
  updatedAt: nonEmptyString,
});
export type ShopifyNode = z.infer<typeof ShopifyNodeEnvelopeSchema>;

const isNode = (value: unknown): value is ShopifyNode => ShopifyNodeEnvelopeSchema.safeParse(value).success;

const CustomersPageSchema = z.object({
  data: z.object({
    customers: z.object({
      pageInfo: z.object({ hasNextPage: z.boolean(), endCursor: z.nullable(z.string()) }),
      // Checked, not copied (memory stays one page deep).
      nodes: z.array(z.custom<ShopifyNode>(isNode, 'a node needs an id and an updatedAt')),
    }),
  }),
});

const EnvelopeSchema = z.looseObject({
  data: z.optional(z.unknown()),
  errors: z.optional(z.union([z.array(GraphqlErrorSchema), z.string()])),
  extensions: z.optional(z.looseObject({ cost: z.optional(CostSchema) })),
});

/** One page of customers. */
export interface ShopifyPage {
  readonly nodes: readonly ShopifyNode[];
  /** Cursor of the page's last node: resume with `after` = this. */
  readonly endCursor: string | null;
  readonly last: boolean;
  /** The bucket after this query, as Shopify reported it. */
  readonly throttleStatus: ThrottleStatus | undefined;
}

export interface ReadShopifyOptions {
  /** `shopifyAdminBaseUrl(config)`. */
  readonly baseUrl: string;
  /** `SHOPIFY_API_VERSION` (`YYYY-MM`). */
  readonly apiVersion: string;
  readonly getToken: (options?: { forceRefresh?: boolean }) => Promise<string>;
  /** The node selection set (C's `SHOPIFY_CUSTOMER_GRAPHQL_FIELDS`). */
  readonly selection: string;
  /** Inclusive lower bound on `updated_at` (ISO). */
  readonly updatedSince?: string | undefined;
  /** Inclusive upper bound on `updated_at` (ISO). */
  readonly updatedUntil?: string | undefined;
  /** Resume after this cursor. */
  readonly after?: string | null | undefined;
  /** @default 250 (the API's maximum); lowered automatically when a page would cost more than a query may. */
  readonly pageSize?: number;
  readonly maxItems?: number;
  readonly fetch: HttpFetch;
  readonly sleep: Sleep;
  readonly now: Clock;
  readonly random: () => number;
  /** Rounds of THROTTLED waits per page before giving up. @default 20 */
  readonly maxThrottleWaits?: number;
  readonly maxAttempts?: number;
  readonly timeoutMs?: number;
  /** Time left before the run's deadline (no request outlives it). */
  readonly remainingMs?: () => number;
}

export const SHOPIFY_MAX_PAGE_SIZE = 250;
/** The most one GraphQL query may cost, whatever the bucket holds. */
export const SHOPIFY_SINGLE_QUERY_MAX_COST = 1_000;

/** The `query` argument: Shopify search syntax over `updated_at`, both bounds inclusive. */
export function buildCustomerSearch(since?: string, until?: string): string {
  const terms: string[] = [];
  if (since !== undefined) terms.push(`updated_at:>='${toSecondUtc(since)}'`);
  if (until !== undefined) terms.push(`updated_at:<='${toSecondUtc(until)}'`);
  return terms.join(' AND ');
}

/** The GraphQL document the reader sends (one operation, variables for paging). */
export function buildCustomersQuery(selection: string): string {
  return `query BackfillCustomers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ${selection} }
  }
}`;
}

/**
 * Reads customers changed in the window, oldest change first, one page per iteration.
 * @throws {ConfigError} when the token is refused or lacks the read_customers scope
 * @throws {ValidationError} code `malformed-page` when an answer is not the documented shape
 * @throws {DependencyError} when Shopify keeps failing or keeps throttling past the limits
 */
export async function* readShopifyCustomers(options: ReadShopifyOptions): AsyncGenerator<ShopifyPage> {
  const url = `${options.baseUrl.replace(/\/+$/, '')}/admin/api/${options.apiVersion}/graphql.json`;
  const query = buildCustomersQuery(options.selection);
  const search = buildCustomerSearch(options.updatedSince, options.updatedUntil);
  let pageSize = Math.min(options.pageSize ?? SHOPIFY_MAX_PAGE_SIZE, SHOPIFY_MAX_PAGE_SIZE);
  let after = options.after ?? null;
  let read = 0;
  let bucket: { status: ThrottleStatus; at: number; lastCost: number } | undefined;
  for (;;) {
    const first = options.maxItems === undefined ? pageSize : Math.min(pageSize, options.maxItems - read);
    if (first <= 0) return;
    let throttleWaits = 0;
    let refreshed = false;
    for (;;) {
      if (bucket) {
        const wait = shopifyCostWaitMs(bucket.status, bucket.lastCost, options.now() - bucket.at);
        if (wait > 0) await options.sleep(wait);
      }
      const token = await options.getToken(refreshed ? { forceRefresh: true } : {});
      const result = await sendWithRetry(
        {
          url,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'x-shopify-access-token': token,
          },
          body: JSON.stringify({ query, variables: { first, after, query: search || null } }),
        },
        {
          fetch: options.fetch,
          sleep: options.sleep,
          now: options.now,
          random: options.random,
          dependency: 'shopify-admin-api',
          ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
          ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
          ...(options.remainingMs === undefined ? {} : { remainingMs: options.remainingMs }),
        },
      );
      if ((result.status === 401 || result.status === 403) && !refreshed) {
        refreshed = true;
        continue;
      }
      if (result.status === 401 || result.status === 403) {
        throw new ConfigError([
          `SHOPIFY_ADMIN_TOKEN_SECRET_ID: Shopify refused the access token (HTTP ${result.status}); it needs read_customers`,
        ]);
      }
      if (result.status !== 200) {
        throw new DependencyError('shopify-admin-api', `Shopify answered HTTP ${result.status}`, {
          retryable: false,
        });
      }
      const envelope = parseEnvelope(result.text);
      const cost = envelope.extensions?.cost;
      if (cost?.throttleStatus) {
        bucket = {
          status: cost.throttleStatus,
          at: options.now(),
          lastCost: cost.requestedQueryCost ?? bucket?.lastCost ?? 0,
        };
      }
      const errors = Array.isArray(envelope.errors) ? envelope.errors : [];
      const codes = errors.map((error) => error.extensions?.code ?? '');
      if (codes.includes('THROTTLED')) {
        throttleWaits++;
        if (throttleWaits > (options.maxThrottleWaits ?? 20)) {
          throw new DependencyError(
            'shopify-admin-api',
            `Shopify kept throttling after ${throttleWaits - 1} waits`,
          );
        }
        // Without a bucket report, wait a second: the bucket refills continuously.
        const wait = bucket
          ? shopifyCostWaitMs(bucket.status, bucket.lastCost, options.now() - bucket.at)
          : 1_000;
        await options.sleep(Math.max(wait, 50));
        continue;
      }
      if (codes.includes('MAX_COST_EXCEEDED') && first > 1) {
        // One query may cost at most `maxCost` (1000 today) whatever the bucket holds: shrink the
        // page to fit and ask again. The requested cost is read from the response's extensions,
        // else from the error's own `cost`; with neither, the page is halved.
        const refused = errors.find((e) => e.extensions?.code === 'MAX_COST_EXCEEDED')?.extensions;
        const maxCost =
          typeof refused?.maxCost === 'number' ? refused.maxCost : SHOPIFY_SINGLE_QUERY_MAX_COST;
        const requested =
          cost?.requestedQueryCost ?? (typeof refused?.cost === 'number' ? refused.cost : undefined);
        pageSize = requested
          ? Math.max(1, Math.min(first - 1, Math.floor((maxCost - 2) / (requested / first))))
          : Math.max(1, Math.floor(first / 2));
        break;
      }
      if (codes.includes('ACCESS_DENIED')) {
        throw new ConfigError([
          'SHOPIFY_ADMIN_TOKEN_SECRET_ID: the app lacks the read_customers access scope',
        ]);
      }
      if (errors.length > 0 || typeof envelope.errors === 'string') {
        const what = typeof envelope.errors === 'string' ? envelope.errors : codes.filter(Boolean).join(', ');
        throw new DependencyError('shopify-admin-api', `Shopify GraphQL error: ${what || 'unknown'}`, {
          retryable: false,
        });
      }
      const page = CustomersPageSchema.safeParse(envelope);
      if (!page.success) {
        const issues = describeIssues(page.error.issues);
        throw new ValidationError(
          `Shopify returned a malformed customers page: ${issues.slice(0, 3).join('; ')}`,
          {
            code: 'malformed-page',
            issues,
          },
        );
      }
      const { nodes, pageInfo } = page.data.data.customers;
      read += nodes.length;
      const last = !pageInfo.hasNextPage || pageInfo.endCursor === null;
      yield { nodes, endCursor: pageInfo.endCursor, last, throttleStatus: bucket?.status };
      if (last) return;
      after = pageInfo.endCursor;
      break;
    }
  }
}

function parseEnvelope(text: string): z.infer<typeof EnvelopeSchema> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ValidationError('Shopify returned a customers page that is not JSON', {
      code: 'malformed-page',
      cause: error,
    });
  }
  const parsed = EnvelopeSchema.safeParse(json);
  if (!parsed.success) {
    throw new ValidationError('Shopify returned an answer that is not a GraphQL response', {
      code: 'malformed-page',
      issues: describeIssues(parsed.error.issues),
    });
  }
  return parsed.data;
}

function toSecondUtc(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new ValidationError(`not a timestamp: ${iso}`, { code: 'invalid-request' });
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
