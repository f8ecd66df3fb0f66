import * as z from '../../zod.js';

/*
 * Typeform payloads (PLATFORMS.md "Typeform"): strict on the fields the mapper reads, tolerant
 * of everything else (z.looseObject), so a field Typeform adds later never fails a delivery.
 */

/*
 * Cold start: every schema below is built at import by the Typeform webhook and the backfill.
 * zod schemas are immutable, so each distinct field schema is built once and shared
 * (`nonEmptyString`, `optionalString`, ...) instead of once per field. Same checks, messages and
 * output (docs/benchmarks.md, cold start).
 */
const string = z.string();
const unknown = z.unknown();
const nonEmptyString = z.string().check(z.minLength(1));
const optionalNonEmptyString = z.optional(nonEmptyString);
const optionalString = z.optional(string);
const optionalStrings = z.optional(z.array(string));

/** The field an answer belongs to. Map by `ref` (set by the form author), fall back to `id`, never by title. */
export const AnswerFieldSchema = z.looseObject({
  id: nonEmptyString,
  type: optionalString,
  ref: optionalNonEmptyString,
});
export type AnswerField = z.infer<typeof AnswerFieldSchema>;

// An answer carries its value under a key named like its type: `{type: 'email', email: 'a@b.co', field}`.
const answer = <T extends string, S extends z.ZodMiniType>(type: T, value: S) =>
  z.looseObject({
    type: z.literal(type),
    field: AnswerFieldSchema,
    [type]: value,
  }) as unknown as z.ZodMiniObject<
    { type: z.ZodMiniLiteral<T>; field: typeof AnswerFieldSchema } & { [K in T]: S },
    z.core.$loose
  >;

// choice: `{id, label, ref}` or `{other}`; older payloads carry only `{label}`.
const ChoiceValueSchema = z.looseObject({
  id: optionalString,
  label: optionalString,
  ref: optionalString,
  other: optionalString,
});
// choices: `{ids, labels, refs, other?}`; older payloads carry only `{labels}`.
const ChoicesValueSchema = z.looseObject({
  ids: optionalStrings,
  labels: optionalStrings,
  refs: optionalStrings,
  other: optionalString,
});
const PaymentValueSchema = z.looseObject({
  amount: optionalString,
  last4: optionalString,
  name: optionalString,
  success: z.optional(z.boolean()),
});

/** One answer of a known type (PLATFORMS.md lists them all). */
export const KnownAnswerSchema = z.discriminatedUnion('type', [
  answer('text', string),
  answer('email', string),
  answer('phone_number', string),
  answer('number', z.number()),
  answer('boolean', z.boolean()),
  answer('date', string),
  answer('url', string),
  answer('file_url', string),
  answer('choice', ChoiceValueSchema),
  answer('choices', ChoicesValueSchema),
  answer('payment', PaymentValueSchema),
  answer('multi_format', unknown),
  answer('signature', unknown),
]);
export type KnownAnswer = z.infer<typeof KnownAnswerSchema>;

/** An answer whose type we do not know, or whose value does not have its type's shape: skipped, not fatal. */
export interface SkippedAnswer {
  type: 'skipped';
  answerType: string;
  field: AnswerField;
  reason: string;
}

/** A parsed answer: a known one, or a skipped one the mapper reports by field name. */
export type Answer = KnownAnswer | SkippedAnswer;

// Each option's literal holds exactly one value (the answer type).
const KNOWN_ANSWER_TYPES: ReadonlySet<string> = new Set(
  KnownAnswerSchema.def.options.flatMap((o) => o.shape.type.def.values),
);

const AnswerBaseSchema = z.looseObject({ type: nonEmptyString, field: AnswerFieldSchema });

const isString = (value: unknown): boolean => typeof value === 'string';
const isOptionalString = (value: unknown): boolean => value === undefined || typeof value === 'string';
const isOptionalStrings = (value: unknown): boolean =>
  value === undefined || (Array.isArray(value) && value.every(isString));

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  // zod never copies an own `__proto__` key: such an object takes the zod path to stay identical.
  return (proto === Object.prototype || proto === null) && !Object.hasOwn(value, '__proto__');
}

/*
 * The answer types a form is made of, checked by hand exactly as KnownAnswerSchema checks them
 * (value shape, AnswerFieldSchema). Per-answer zod parsing was the largest single cost of a
 * webhook (a form carries dozens of answers); payment, multi_format, signature and anything
 * that fails a check here still go through zod, which stays the one definition of "valid" and
 * produces the issues. schema.test.ts checks both paths give the same result.
 */
const COMMON_ANSWER_VALUES: Readonly<Record<string, (value: unknown) => boolean>> = {
  text: isString,
  email: isString,
  phone_number: isString,
  date: isString,
  url: isString,
  file_url: isString,
  number: (value) => typeof value === 'number' && Number.isFinite(value),
  boolean: (value) => typeof value === 'boolean',
  choice: (value) =>
    isPlainObject(value) &&
    isOptionalString(value.id) &&
    isOptionalString(value.label) &&
    isOptionalString(value.ref) &&
    isOptionalString(value.other),
  choices: (value) =>
    isPlainObject(value) &&
    isOptionalStrings(value.ids) &&
    isOptionalStrings(value.labels) &&
    isOptionalStrings(value.refs) &&
    isOptionalString(value.other),
};

/**
 * The answer itself when it is a well-formed answer of a common type (the parse result is then
 * the parsed JSON object, equal to what zod would copy), else `undefined` (zod decides).
 */
export function readCommonAnswer(raw: unknown): KnownAnswer | undefined {
  if (!isPlainObject(raw) || typeof raw.type !== 'string') return undefined;
  if (!Object.hasOwn(COMMON_ANSWER_VALUES, raw.type)) return undefined;
  const checkValue = COMMON_ANSWER_VALUES[raw.type];
  const field = raw.field;
  if (
    checkValue === undefined ||
    !checkValue(raw[raw.type]) ||
    !isPlainObject(field) ||
    typeof field.id !== 'string' ||
    field.id.length === 0 ||
    !isOptionalString(field.type) ||
    !(field.ref === undefined || (typeof field.ref === 'string' && field.ref.length > 0))
  ) {
    return undefined;
  }
  return raw as KnownAnswer;
}

// One unknown or malformed answer must not fail the whole response (issue 3 §3): classify each.
// Common answers take the hand check; the rest the known-answer parse, and only answers it
// rejects the base shape (one zod pass per answer, not two). One transform for the whole array:
// a zod pipe per element cost more than the checks themselves.
function classifyAnswer(raw: unknown, index: number, ctx: z.core.ParsePayload): Answer | undefined {
  const common = readCommonAnswer(raw);
  if (common !== undefined) return common;
  const known = KnownAnswerSchema.safeParse(raw);
  if (known.success) return known.data;
  const base = AnswerBaseSchema.safeParse(raw);
  if (!base.success) {
    for (const issue of base.error.issues) {
      // zod/mini hands a transform the bare payload (no `addIssue`): push the issue addIssue
      // would build (code, message, path, and the array as `input`).
      ctx.issues.push({
        code: 'custom',
        message: issue.message,
        path: [index, ...issue.path] as PropertyKey[],
        input: ctx.value,
      });
    }
    return undefined;
  }
  return {
    type: 'skipped',
    answerType: base.data.type,
    field: base.data.field,
    reason: KNOWN_ANSWER_TYPES.has(base.data.type)
      ? `malformed ${base.data.type} answer`
      : `unsupported answer type ${base.data.type}`,
  };
}

const AnswersSchema = z.pipe(
  z.nullish(z.array(unknown)),
  z.transform((raw: unknown[] | null | undefined, ctx): Answer[] => {
    if (raw === null || raw === undefined) return [];
    const answers: Answer[] = [];
    let failed = false;
    for (let i = 0; i < raw.length; i++) {
      const answer = classifyAnswer(raw[i], i, ctx);
      if (answer === undefined) failed = true;
      else answers.push(answer);
    }
    return failed ? z.NEVER : answers;
  }),
);

const optionalTimestamp = z.optional(z.iso.datetime({ offset: true }));

/**
 * A `form_response` from a webhook, or a Responses API item once the caller adds `form_id`
 * (items carry `token`/`response_id`, no `definition`; `answers` may be null). Output always has
 * `token`, `answers` and `hidden`.
 */
const FormResponseObjectSchema = z.looseObject({
  form_id: nonEmptyString,
  token: optionalNonEmptyString,
  response_id: optionalNonEmptyString,
  landed_at: optionalTimestamp,
  submitted_at: optionalTimestamp,
  hidden: z.pipe(
    z.nullish(z.record(string, unknown)),
    z.transform((hidden: Record<string, unknown> | null | undefined) => hidden ?? {}),
  ),
  calculated: z.nullish(z.looseObject({ score: z.optional(z.number()) })),
  variables: z.nullish(z.array(unknown)),
  definition: z.nullish(z.looseObject({ id: optionalString, title: optionalString })),
  answers: AnswersSchema,
});
type FormResponseObject = z.infer<typeof FormResponseObjectSchema>;

export const FormResponseSchema = z.pipe(
  FormResponseObjectSchema.check(
    z.refine(
      (response: FormResponseObject) => response.token !== undefined || response.response_id !== undefined,
      {
        message: 'a response needs token (webhook) or response_id (Responses API)',
        path: ['token'],
      },
    ),
    z.refine(
      (response: FormResponseObject) =>
        response.submitted_at !== undefined || response.landed_at !== undefined,
      {
        message: 'a response needs submitted_at (or landed_at for a partial response)',
        path: ['submitted_at'],
      },
    ),
  ),
  z.transform(({ token, response_id, ...rest }: FormResponseObject) => ({
    ...rest,
    token: (token ?? response_id) as string,
  })),
);
export type FormResponse = z.infer<typeof FormResponseSchema>;
/** The shape FormResponseSchema accepts (before defaults and the token fallback). */
export type FormResponseInput = z.input<typeof FormResponseSchema>;

/** The event types a Typeform webhook carries. */
export const TYPEFORM_EVENT_TYPES = { response: 'form_response', partial: 'form_response_partial' } as const;

/** A Typeform webhook body: `{event_id, event_type, form_response}`. */
export const TypeformWebhookSchema = z.looseObject({
  event_id: nonEmptyString,
  event_type: nonEmptyString,
  form_response: FormResponseSchema,
});
export type TypeformWebhook = z.infer<typeof TypeformWebhookSchema>;
