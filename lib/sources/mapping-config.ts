import { readFileSync } from 'node:fs';
import bundledMappings from '../../mappings/default.json' with { type: 'json' };
import { CONTACT_STRING_FIELDS } from '../cleartalk/contact-fields.js';
import { ConfigError, describeIssues } from '../errors.js';
import * as z from '../zod.js';

/*
 * The mapping configuration (mappings/*.json): which source field goes to which contact field,
 * per Typeform form and per Shopify shop, plus the worker's per-source policy. Data, validated
 * with zod at cold start; a user with no file gets DESIGN.md's defaults (mappings/default.json
 * is bundled by esbuild through the static import above). See mappings/README.md.
 */

/** A contact field an answer can be mapped to, or `skip` to leave the answer out entirely. */
export const FieldTargetSchema = z.enum([...CONTACT_STRING_FIELDS, 'skip']);
export type FieldTarget = z.infer<typeof FieldTargetSchema>;

// Cold start: this schema is built and run once per container, before the first request, so it
// builds one instance per distinct shape (`optionalString`, `bool`, `optionalLabel`, ... shared
// below) and writes the override shapes out instead of deriving them with `z.partial()` (which
// builds a throwaway object schema plus an optional wrapper per key). Same checks, messages and
// types; 83 zod instances instead of 113 (docs/benchmarks.md, cold start).
const optionalString = z.optional(z.string());
const nonEmptyString = z.string().check(z.minLength(1));
const bool = z.boolean();
const optionalBool = z.optional(bool);

// Every object may carry a "$comment" (JSON has no comments; the example file uses these).
const comment = { $comment: optionalString };

const fieldRef = z.string().check(z.minLength(1, 'a field ref cannot be empty'));
const hiddenName = z.string().check(z.minLength(1, 'a hidden field name cannot be empty'));
const label = z.string().check(z.trim(), z.minLength(1, 'cannot be empty'));
const optionalLabel = z.optional(label);
// `null` in an override clears a value the defaults set.
const clearableLabel = z.optional(z.nullable(label));
const formId = z
  .string()
  .check(z.regex(/^[A-Za-z0-9]+$/, 'a Typeform form id is letters and digits, e.g. lT4Z3j'));
const shopDomain = z
  .string()
  .check(
    z.regex(/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/, 'a shop is keyed by its <shop>.myshopify.com domain'),
  );
const topic = z.string().check(z.regex(/^[a-z_]+\/[a-z_]+$/, 'a Shopify topic looks like customers/update'));

const DEFAULT_FIELD_MAP = {
  first_name: 'firstName',
  last_name: 'lastName',
  email: 'email',
  phone: 'phone',
  date_of_birth: 'dateOfBirth',
} as const satisfies Record<string, FieldTarget>;

/*
 * Typeform settings, in the defaults (every key has a default) and in a form's override (every
 * key optional; labels may be `null`):
 * - fieldMap: field ref -> contact field; refs not listed go to `customField[ref]` when `copyUnmappedAnswers`.
 * - contactIdHiddenField: the hidden field carrying the ClearTalk contact id.
 * - hiddenFieldsToCustomField: hidden fields copied into `customField` under their own name.
 * - copyUnmappedAnswers: whether answers without a fieldMap entry go into `customField[ref]`.
 * - partialResponses: whether `form_response_partial` deliveries are mapped (otherwise answered `ignored`).
 * - ignored: whether the form is ignored altogether.
 * - backfill: whether the scheduled backfill reads this form's responses.
 */
const fieldMap = z.record(fieldRef, FieldTargetSchema);
const hiddenFieldNames = z.array(hiddenName);

const TypeformDefaultsSchema = z.strictObject({
  ...comment,
  fieldMap: z._default(fieldMap, DEFAULT_FIELD_MAP),
  contactIdHiddenField: z._default(hiddenName, 'contact_id'),
  hiddenFieldsToCustomField: z._default(hiddenFieldNames, []),
  copyUnmappedAnswers: z._default(bool, true),
  partialResponses: z._default(bool, false),
  ignored: z._default(bool, false),
  backfill: z._default(bool, false),
  listName: optionalLabel,
  tag: optionalLabel,
  contactSource: optionalLabel,
});

const TypeformOverrideSchema = z.strictObject({
  ...comment,
  fieldMap: z.optional(fieldMap),
  contactIdHiddenField: z.optional(hiddenName),
  hiddenFieldsToCustomField: z.optional(hiddenFieldNames),
  copyUnmappedAnswers: optionalBool,
  partialResponses: optionalBool,
  ignored: optionalBool,
  backfill: optionalBool,
  listName: clearableLabel,
  tag: clearableLabel,
  contactSource: clearableLabel,
});

const MetafieldRefSchema = z.strictObject({
  ...comment,
  namespace: nonEmptyString,
  key: nonEmptyString,
});

/*
 * Shopify settings, in the defaults and in a shop's override:
 * - ignoreTopics: topics answered `ignored` instead of mapped.
 * - contactIdMetafield: the customer metafield carrying the ClearTalk contact id.
 */
const topics = z.array(topic);

const ShopifyDefaultsSchema = z.strictObject({
  ...comment,
  ignoreTopics: z._default(topics, []),
  contactIdMetafield: z._default(MetafieldRefSchema, { namespace: 'cleartalk', key: 'contact_id' }),
  listName: optionalLabel,
  tag: optionalLabel,
  contactSource: optionalLabel,
});

const ShopifyOverrideSchema = z.strictObject({
  ...comment,
  ignoreTopics: z.optional(topics),
  contactIdMetafield: z.optional(MetafieldRefSchema),
  listName: clearableLabel,
  tag: clearableLabel,
  contactSource: clearableLabel,
});

const SourcePolicySchema = z.strictObject({
  ...comment,
  /** Whether the worker creates a contact (`POST /contacts`) when a job's match resolves to none. */
  createIfUnresolved: z._default(bool, false),
});

/** The whole mapping file. Unknown keys are errors, so a typo does not silently fall back to a default. */
export const MappingConfigSchema = z.strictObject({
  ...comment,
  $schema: optionalString,
  version: z._default(z.literal(1), 1),
  typeform: z.prefault(
    z.strictObject({
      ...comment,
      defaults: z.prefault(TypeformDefaultsSchema, {}),
      forms: z._default(z.record(formId, TypeformOverrideSchema), {}),
    }),
    {},
  ),
  shopify: z.prefault(
    z.strictObject({
      ...comment,
      defaults: z.prefault(ShopifyDefaultsSchema, {}),
      shops: z._default(z.record(shopDomain, ShopifyOverrideSchema), {}),
    }),
    {},
  ),
  worker: z.prefault(
    z.strictObject({
      ...comment,
      defaults: z.prefault(SourcePolicySchema, {}),
      sources: z._default(z.record(nonEmptyString, SourcePolicySchema), {}),
    }),
    {},
  ),
});
export type MappingConfig = z.infer<typeof MappingConfigSchema>;

/** The effective settings of one Typeform form: the defaults with the form's override applied. */
export interface TypeformFormSettings {
  fieldMap: Record<string, FieldTarget>;
  contactIdHiddenField: string;
  hiddenFieldsToCustomField: string[];
  copyUnmappedAnswers: boolean;
  partialResponses: boolean;
  ignored: boolean;
  backfill: boolean;
  listName?: string;
  tag?: string;
  contactSource?: string;
}

/** The effective settings of one Shopify shop: the defaults with the shop's override applied. */
export interface ShopifyShopSettings {
  ignoreTopics: string[];
  contactIdMetafield: { namespace: string; key: string };
  listName?: string;
  tag?: string;
  contactSource?: string;
}

/** The worker's policy for one job source. */
export interface SourcePolicy {
  createIfUnresolved: boolean;
}

/**
 * Validates mapping data; `origin` (a file name) prefixes every problem.
 * @throws {ConfigError} listing every problem at once (paths and messages, never values).
 */
export function parseMappingConfig(data: unknown, origin: string): MappingConfig {
  // Parsed once per container: skip zod's compiled fast path (see loadConfig in lib/config.ts).
  const parsed = MappingConfigSchema.safeParse(data, { jitless: true });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) =>
      // zod reports a bad record key as "Invalid key in record"; its nested issue says what a key must look like.
      issue.code === 'invalid_key' && issue.issues[0]
        ? { path: issue.path, message: issue.issues[0].message }
        : issue,
    );
    throw new ConfigError(
      describeIssues(issues).map((problem) => `${origin}: ${problem}`),
      {
        cause: parsed.error,
      },
    );
  }
  const problems: string[] = [];
  for (const [id, form] of Object.entries(parsed.data.typeform.forms)) {
    if (form.ignored === true && form.backfill === true) {
      problems.push(`${origin}: typeform.forms.${id}: a form cannot be both ignored and backfilled`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return parsed.data;
}

/**
 * Loads the mapping file at `path` (JSON, relative to the working directory), or the bundled
 * mappings/default.json when no path is given.
 * @default path `process.env.MAPPINGS_FILE`
 * @throws {ConfigError} when the file cannot be read, is not JSON, or is not a valid mapping.
 */
export function loadMappingConfig(path: string | undefined = process.env.MAPPINGS_FILE): MappingConfig {
  if (path === undefined || path.trim() === '')
    return parseMappingConfig(bundledMappings, 'mappings/default.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ConfigError([`MAPPINGS_FILE: cannot read ${path} (${code})`], { cause: error });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError([`${path}: not valid JSON (${(error as Error).message})`], { cause: error });
  }
  return parseMappingConfig(data, path);
}

function mergeLabels(
  target: { listName?: string; tag?: string; contactSource?: string },
  source: {
    listName?: string | null | undefined;
    tag?: string | null | undefined;
    contactSource?: string | null | undefined;
  },
): void {
  for (const key of ['listName', 'tag', 'contactSource'] as const) {
    const value = source[key];
    if (value === null) delete target[key];
    else if (value !== undefined) target[key] = value;
  }
}

/** The effective settings of a form: defaults, then the form's override (fieldMap merged key by key). */
export function typeformFormSettings(config: MappingConfig, formId: string): TypeformFormSettings {
  const { $comment: _defaultsComment, listName, tag, contactSource, ...defaults } = config.typeform.defaults;
  const settings: TypeformFormSettings = {
    ...defaults,
    fieldMap: { ...defaults.fieldMap },
    hiddenFieldsToCustomField: [...defaults.hiddenFieldsToCustomField],
  };
  mergeLabels(settings, { listName, tag, contactSource });
  const override = Object.hasOwn(config.typeform.forms, formId) ? config.typeform.forms[formId] : undefined;
  if (override === undefined) return settings;
  if (override.fieldMap) settings.fieldMap = { ...settings.fieldMap, ...override.fieldMap };
  if (override.contactIdHiddenField !== undefined)
    settings.contactIdHiddenField = override.contactIdHiddenField;
  if (override.hiddenFieldsToCustomField)
    settings.hiddenFieldsToCustomField = [...override.hiddenFieldsToCustomField];
  if (override.copyUnmappedAnswers !== undefined) settings.copyUnmappedAnswers = override.copyUnmappedAnswers;
  if (override.partialResponses !== undefined) settings.partialResponses = override.partialResponses;
  if (override.ignored !== undefined) settings.ignored = override.ignored;
  if (override.backfill !== undefined) settings.backfill = override.backfill;
  mergeLabels(settings, override);
  return settings;
}

/** The effective settings of a shop: defaults, then the shop's override. */
export function shopifyShopSettings(config: MappingConfig, shop: string): ShopifyShopSettings {
  const defaults = config.shopify.defaults;
  const settings: ShopifyShopSettings = {
    ignoreTopics: [...defaults.ignoreTopics],
    contactIdMetafield: {
      namespace: defaults.contactIdMetafield.namespace,
      key: defaults.contactIdMetafield.key,
    },
  };
  mergeLabels(settings, defaults);
  const override = Object.hasOwn(config.shopify.shops, shop) ? config.shopify.shops[shop] : undefined;
  if (override === undefined) return settings;
  if (override.ignoreTopics) settings.ignoreTopics = [...override.ignoreTopics];
  if (override.contactIdMetafield) {
    settings.contactIdMetafield = {
      namespace: override.contactIdMetafield.namespace,
      key: override.contactIdMetafield.key,
    };
  }
  mergeLabels(settings, override);
  return settings;
}

/*
 * The webhook path needs a form's or a shop's effective settings on every delivery, and merging
 * them (spreads, array copies) showed in its profile. A loaded configuration never changes, so
 * the merged settings are computed once per configuration object and form/shop, and frozen so a
 * caller cannot alter what the next delivery sees. Ids without an override share the defaults'
 * entry: a sender cannot grow the cache with made-up ids.
 */
const DEFAULTS_KEY = Symbol('defaults');
type SettingsCache<T> = WeakMap<MappingConfig, Map<string | symbol, Readonly<T>>>;
const typeformSettingsCache: SettingsCache<TypeformFormSettings> = new WeakMap();
const shopifySettingsCache: SettingsCache<ShopifyShopSettings> = new WeakMap();

function lookupCached<T extends object>(
  cache: SettingsCache<T>,
  config: MappingConfig,
  overrides: Record<string, unknown>,
  id: string,
  compute: () => T,
): Readonly<T> {
  let perConfig = cache.get(config);
  if (perConfig === undefined) {
    perConfig = new Map();
    cache.set(config, perConfig);
  }
  const key = Object.hasOwn(overrides, id) ? id : DEFAULTS_KEY;
  let settings = perConfig.get(key);
  if (settings === undefined) {
    settings = deepFreeze(compute());
    perConfig.set(key, settings);
  }
  return settings;
}

function deepFreeze<T extends object>(value: T): Readonly<T> {
  for (const child of Object.values(value)) {
    if (typeof child === 'object' && child !== null) deepFreeze(child);
  }
  return Object.freeze(value);
}

/**
 * `typeformFormSettings`, computed once per configuration and form and frozen (the webhook
 * path's hot loop). The configuration must not be mutated after it is loaded.
 */
export function lookupTypeformFormSettings(
  config: MappingConfig,
  formId: string,
): Readonly<TypeformFormSettings> {
  return lookupCached(typeformSettingsCache, config, config.typeform.forms, formId, () =>
    typeformFormSettings(config, formId),
  );
}

/**
 * `shopifyShopSettings`, computed once per configuration and shop and frozen (the webhook path's
 * hot loop). The configuration must not be mutated after it is loaded.
 */
export function lookupShopifyShopSettings(
  config: MappingConfig,
  shop: string,
): Readonly<ShopifyShopSettings> {
  return lookupCached(shopifySettingsCache, config, config.shopify.shops, shop, () =>
    shopifyShopSettings(config, shop),
  );
}

/** The worker's policy for a job source; a source the configuration does not name gets the defaults. */
export function sourcePolicy(config: MappingConfig, source: string): SourcePolicy {
  const named = Object.hasOwn(config.worker.sources, source) ? config.worker.sources[source] : undefined;
  return { createIfUnresolved: (named ?? config.worker.defaults).createIfUnresolved };
}

/** The forms the scheduled backfill reads: every configured form whose effective `backfill` is on and that is not ignored. */
export function backfillFormIds(config: MappingConfig): string[] {
  return Object.keys(config.typeform.forms).filter((id) => {
    const settings = typeformFormSettings(config, id);
    return settings.backfill && !settings.ignored;
  });
}
