import { ConfigError, describeIssues } from './errors.js';
import { BREAKER_WINDOW } from './jobs/circuit-breaker.js';
import * as z from './zod.js';

/**
 * The environment, parsed once at cold start. Contract variables are in DESIGN.md; the
 * tuning variables below them are ours and all have defaults.
 */
const optionalText = z.optional(
  z.pipe(
    z.string().check(z.trim()),
    z.transform((value: string) => (value === '' ? undefined : value)),
  ),
);

// One base schema for the nine tuning integers (zod schemas are immutable; `_default` returns a
// new one): building the chain nine times was a visible part of the cold start.
const positiveIntBase = z.coerce.number().check(z.int(), z.positive());
const positiveInt = (fallback: number) => z._default(positiveIntBase, fallback);
// Likewise one URL schema under the three URL variables.
const url = z.url();

export const ConfigSchema = z.object({
  // Contract (DESIGN.md "Environment").
  CLEARTALK_BASE_URL: z._default(url, 'https://api.cleartalk.ai'),
  CLEARTALK_API_KEY_SECRET_ID: optionalText,
  TYPEFORM_WEBHOOK_SECRET_ID: optionalText,
  SHOPIFY_WEBHOOK_SECRET_ID: optionalText,
  TYPEFORM_API_TOKEN_SECRET_ID: optionalText,
  TYPEFORM_API_BASE_URL: z._default(url, 'https://api.typeform.com'),
  SHOPIFY_ADMIN_TOKEN_SECRET_ID: optionalText,
  // Empty means unset: serverless.yml passes '' when the stage has no shop (no Shopify backfill).
  SHOPIFY_SHOP_DOMAIN: z.pipe(
    optionalText,
    z.optional(
      z.string().check(z.regex(/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/, 'must be <shop>.myshopify.com')),
    ),
  ),
  SHOPIFY_ADMIN_BASE_URL: z.optional(url),
  PATCH_QUEUE_URL: optionalText,
  DEAD_LETTER_QUEUE_URL: optionalText,
  STATE_TABLE_NAME: optionalText,
  DEFAULT_PHONE_REGION: z._default(
    z.string().check(z.regex(/^[A-Z]{2}$/, 'must be a two-letter region code such as US or GB')),
    'US',
  ),

  // Tuning (ours; documented in the README).
  /** Per-attempt timeout of a ClearTalk request. */
  CLEARTALK_TIMEOUT_MS: positiveInt(10_000),
  /** Attempts per ClearTalk request, the first included. */
  CLEARTALK_MAX_ATTEMPTS: positiveInt(6),
  /** Parallel message groups inside one worker invocation. */
  WORKER_CONCURRENCY: positiveInt(8),
  /** Time kept back from the Lambda deadline for bookkeeping after the last request. */
  DEADLINE_SAFETY_MS: positiveInt(3_000),
  /** How long a secret is cached in a warm container. */
  SECRET_CACHE_TTL_SECONDS: positiveInt(300),
  /** Shopify Admin API version used by the backfill. */
  SHOPIFY_API_VERSION: z._default(z.string().check(z.regex(/^\d{4}-\d{2}$/, 'must be YYYY-MM')), '2026-10'),
  /** Path of the mapping configuration (JSON); the bundled defaults when unset. */
  MAPPINGS_FILE: optionalText,
  /**
   * The receive on which the worker dead-letters a still-failing record itself (`retries-exhausted`);
   * the queue's redrive `maxReceiveCount` must be this + 1 (it is only the backstop for crashes).
   */
  MAX_RECEIVE_COUNT: positiveInt(5),
  /**
   * Failed ClearTalk attempts among its last 20 outcomes (90% of them at least, of 3 contacts or
   * more) that open the worker's circuit breaker (lib/jobs/circuit-breaker.ts); at most the 20
   * outcomes the breaker looks at.
   */
  BREAKER_FAILURE_THRESHOLD: z._default(positiveIntBase.check(z.maximum(BREAKER_WINDOW)), 10),
  /** How long the worker's circuit breaker stays open before one trial request. */
  BREAKER_COOLDOWN_MS: positiveInt(30_000),
  /** Longest wait for a contact another worker invocation holds before handing the record back. */
  CONTACT_LEASE_WAIT_MS: positiveInt(3_000),
});
export type Config = z.infer<typeof ConfigSchema>;

type OptionalKeys = {
  [K in keyof Config]-?: undefined extends Config[K] ? K : never;
}[keyof Config];

/** A config in which the named variables are known to be present. */
export type ConfigWith<K extends OptionalKeys> = Config & { [P in K]-?: NonNullable<Config[P]> };

/**
 * Parses the environment and checks that every variable the caller needs is set, reporting
 * every problem at once.
 * @throws {ConfigError} naming each missing or invalid variable (never its value).
 */
export function loadConfig<K extends OptionalKeys>(
  env: Record<string, string | undefined>,
  required: readonly K[] = [],
): ConfigWith<K> {
  // jitless: by default zod compiles (new Function) a parser specialised to the object's shape on
  // its first parse, which pays off only for schemas parsed again and again; the environment is
  // parsed once per container, and that compile was most of this parse's cost at cold start.
  // Same checks, same result.
  const parsed = ConfigSchema.safeParse(env, { jitless: true });
  if (parsed.success) {
    const missing = required.filter((key) => parsed.data[key] === undefined);
    if (missing.length > 0) throw new ConfigError(missing.map((key) => `${key}: required`));
    return parsed.data as ConfigWith<K>;
  }
  // Invalid variables and missing ones together: a required variable that is unset or blank is
  // named even when others failed (the parse gives no data to read it from).
  const invalid = new Set(parsed.error.issues.map((issue) => issue.path[0]));
  const missing = required.filter((key) => !invalid.has(key) && (env[key] ?? '').trim() === '');
  throw new ConfigError([
    ...describeIssues(parsed.error.issues),
    ...missing.map((key) => `${key}: required`),
  ]);
}

/** The Shopify Admin API base: `SHOPIFY_ADMIN_BASE_URL`, else `https://<SHOPIFY_SHOP_DOMAIN>`. */
export function shopifyAdminBaseUrl(config: Pick<Config, 'SHOPIFY_ADMIN_BASE_URL' | 'SHOPIFY_SHOP_DOMAIN'>) {
  if (config.SHOPIFY_ADMIN_BASE_URL) return config.SHOPIFY_ADMIN_BASE_URL.replace(/\/+$/, '');
  if (config.SHOPIFY_SHOP_DOMAIN) return `https://${config.SHOPIFY_SHOP_DOMAIN}`;
  throw new ConfigError(['SHOPIFY_SHOP_DOMAIN: required (or SHOPIFY_ADMIN_BASE_URL)']);
}
