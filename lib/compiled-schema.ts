import * as z from 'zod';

/** A schema's parse functions, served by zod's compiled fast path once the first call has built it. */
export interface CompiledSchema<T extends z.ZodType> {
  /** The schema as written (for error formatting, JSON Schema, tests). */
  readonly schema: T;
  parse(input: unknown): z.output<T>;
  safeParse(input: unknown): z.ZodSafeParseResult<z.output<T>>;
}

/**
 * Wraps a hot schema (one parsed per request or per job) so that its first parse compiles it
 * with `z.compile`: a generated validator that is 2-3x faster on valid input and falls back to
 * zod's runtime parser (same result, same issues) on invalid input or on a shape it cannot model.
 * Compiling costs a few milliseconds, so it happens on first use, not at import: a function that
 * never parses this schema never pays for it, and module load (cold start) stays as it was.
 */
export function compileOnFirstUse<T extends z.ZodType>(schema: T): CompiledSchema<T> {
  let compiled: T | undefined;
  const fast = (): T => {
    compiled ??= z.compile(schema);
    return compiled;
  };
  return {
    schema,
    parse: (input) => fast().parse(input),
    safeParse: (input) => fast().safeParse(input),
  };
}
