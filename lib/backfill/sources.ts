import type { CheckpointStore } from '../aws/checkpoints.js';
import { type MappingConfig, shopifyShopSettings } from '../sources/mapping-config.js';
import type { MapOutcome } from '../sources/outcome.js';
import { readShopifyCustomers } from '../sources/shopify/admin-api.js';
import {
  ShopifyGraphqlCustomerSchema,
  shopifyCustomerFromGraphql,
  shopifyCustomerGraphqlFields,
} from '../sources/shopify/graphql.js';
import { mapShopifyCustomer } from '../sources/shopify/mapper.js';
import { mapTypeformResponse } from '../sources/typeform/mapper.js';
import { readTypeformResponses } from '../sources/typeform/responses-api.js';
import { FormResponseSchema } from '../sources/typeform/schema.js';
import type { HttpFetch } from './http.js';
import type { Clock, Pacer, Sleep } from './pacing.js';
import type { ScopeDefinition, ScopePage } from './run-scope.js';
import { checkpointAfterPage, checkpointScopeFor, planSweep, type SweepCheckpoint } from './sweep.js';

/** The checkpoint `source` of each backfill (`checkpoint#<source>#<scope>`). */
export const CHECKPOINT_SOURCES = { typeform: 'backfill:typeform', shopify: 'backfill:shopify' } as const;

/** The job `source` each backfill stamps on its PatchJobs (jobIds do not depend on it). */
export const JOB_SOURCES = { typeform: 'backfill:typeform', shopify: 'backfill:shopify' } as const;

export interface MappingContext {
  readonly config: MappingConfig;
  readonly defaultPhoneRegion: string;
}

export interface TimingDeps {
  readonly fetch: HttpFetch;
  /** Deadline-aware: throws instead of waiting past the run's deadline. */
  readonly sleep: Sleep;
  readonly now: Clock;
  readonly random: () => number;
  /** Time left before the run's deadline. */
  readonly remainingMs: () => number;
}

export interface TypeformAccess {
  readonly baseUrl: string;
  readonly getToken: (options?: { forceRefresh?: boolean }) => Promise<string>;
  /** One per Typeform account (2 requests/s), shared by every form. */
  readonly pacer: Pacer;
  /** @default 1000 (the API's maximum; smaller only in tests) */
  readonly pageSize?: number;
}

export interface ShopifyAccess {
  readonly baseUrl: string;
  readonly shop: string;
  readonly apiVersion: string;
  readonly getToken: (options?: { forceRefresh?: boolean }) => Promise<string>;
  /** @default 250 (the API's maximum; lowered on its own when a page would cost too much) */
  readonly pageSize?: number;
}

interface Window {
  readonly since?: string | undefined;
  readonly until?: string | undefined;
}

/** Maps one Responses API item: the item plus `form_id` is a FormResponse for C's mapper. */
export function mapTypeformItem(record: unknown, formId: string, mapping: MappingContext): MapOutcome {
  const parsed = FormResponseSchema.safeParse({ ...(record as object), form_id: formId });
  if (!parsed.success) return { kind: 'nothing', reason: 'invalid-response', dropped: [] };
  return mapTypeformResponse(parsed.data, { ...mapping, source: JOB_SOURCES.typeform });
}

/** Maps one GraphQL customer node through the webhook mapper, so jobIds match the webhook path. */
export function mapShopifyNode(record: unknown, shop: string, mapping: MappingContext): MapOutcome {
  const parsed = ShopifyGraphqlCustomerSchema.safeParse(record);
  if (!parsed.success) return { kind: 'nothing', reason: 'invalid-customer', dropped: [] };
  const metafield = shopifyShopSettings(mapping.config, shop).contactIdMetafield;
  return mapShopifyCustomer(shopifyCustomerFromGraphql(parsed.data, metafield), {
    shop,
    ...mapping,
    source: JOB_SOURCES.shopify,
  });
}

/** Loads a scope's checkpoint and plans its sweep: the definition `runScope` executes. */
export async function defineTypeformScope(args: {
  formId: string;
  window: Window;
  store: CheckpointStore;
  access: TypeformAccess;
  timing: TimingDeps;
  mapping: MappingContext;
  overlapMs: number;
}): Promise<ScopeDefinition<SweepCheckpoint> & { readonly updatedAt: string | undefined }> {
  const checkpointScope = checkpointScopeFor(args.formId, args.window);
  const stored = await args.store.get<SweepCheckpoint>(CHECKPOINT_SOURCES.typeform, checkpointScope);
  const sweep = planSweep(stored?.state, {
    nowMs: args.timing.now(),
    overlapMs: args.overlapMs,
    ...args.window,
  });
  return {
    source: 'typeform',
    scope: args.formId,
    checkpointSource: CHECKPOINT_SOURCES.typeform,
    checkpointScope,
    window: windowOf(sweep),
    stored,
    updatedAt: stored?.updatedAt,
    map: (record) => mapTypeformItem(record, args.formId, args.mapping),
    async *pages(maxItems): AsyncGenerator<ScopePage<SweepCheckpoint>> {
      const reader = readTypeformResponses({
        baseUrl: args.access.baseUrl,
        getToken: args.access.getToken,
        pacer: args.access.pacer,
        formId: args.formId,
        since: sweep.since,
        until: sweep.until,
        before: sweep.cursor,
        ...(args.access.pageSize === undefined ? {} : { pageSize: args.access.pageSize }),
        ...(maxItems === undefined ? {} : { maxItems }),
        ...args.timing,
      });
      for await (const page of reader) {
        yield {
          records: page.items,
          state: checkpointAfterPage(stored?.state, sweep, { last: page.last, cursor: page.nextBefore }),
          remainingHint: page.totalItems,
          last: page.last,
        };
      }
    },
  };
}

/** Same for one Shopify shop's customers. */
export async function defineShopifyScope(args: {
  window: Window;
  store: CheckpointStore;
  access: ShopifyAccess;
  timing: TimingDeps;
  mapping: MappingContext;
  overlapMs: number;
}): Promise<ScopeDefinition<SweepCheckpoint> & { readonly updatedAt: string | undefined }> {
  const checkpointScope = checkpointScopeFor(args.access.shop, args.window);
  const stored = await args.store.get<SweepCheckpoint>(CHECKPOINT_SOURCES.shopify, checkpointScope);
  const sweep = planSweep(stored?.state, {
    nowMs: args.timing.now(),
    overlapMs: args.overlapMs,
    ...args.window,
  });
  return {
    source: 'shopify',
    scope: args.access.shop,
    checkpointSource: CHECKPOINT_SOURCES.shopify,
    checkpointScope,
    window: windowOf(sweep),
    stored,
    updatedAt: stored?.updatedAt,
    map: (record) => mapShopifyNode(record, args.access.shop, args.mapping),
    async *pages(maxItems): AsyncGenerator<ScopePage<SweepCheckpoint>> {
      const reader = readShopifyCustomers({
        baseUrl: args.access.baseUrl,
        apiVersion: args.access.apiVersion,
        getToken: args.access.getToken,
        // The shop's configured contact-id metafield, the same one its webhooks are read with.
        selection: shopifyCustomerGraphqlFields(
          shopifyShopSettings(args.mapping.config, args.access.shop).contactIdMetafield,
        ),
        updatedSince: sweep.since,
        updatedUntil: sweep.until,
        after: sweep.cursor,
        ...(args.access.pageSize === undefined ? {} : { pageSize: args.access.pageSize }),
        ...(maxItems === undefined ? {} : { maxItems }),
        ...args.timing,
      });
      for await (const page of reader) {
        yield {
          records: page.nodes,
          state: checkpointAfterPage(stored?.state, sweep, {
            last: page.last,
            cursor: page.endCursor ?? undefined,
          }),
          last: page.last,
        };
      }
    },
  };
}

function windowOf(sweep: { since?: string; until: string }): { since?: string; until: string } {
  return sweep.since === undefined ? { until: sweep.until } : { since: sweep.since, until: sweep.until };
}
