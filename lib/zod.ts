import { en } from 'zod/locales';
import { config } from 'zod/mini';

/**
 * The one zod every bundled module imports (`import * as z from '../zod.js'`): zod's "mini"
 * build with the English messages.
 *
 * Why mini: the classic build is about three times the code, and V8 compiles the code a schema
 * runs through on first use. For the worker's schemas, load + build + first parse took about
 * half the CPU with mini (docs/benchmarks.md, cold start "Seventh pass"). Mini builds the same
 * core schemas with functions (`z.optional(s)`, `s.check(z.minLength(1))`), so parsing, issues
 * and `z.compile` are unchanged.
 *
 * Why the locale: classic installs the English messages itself; mini leaves them out, and every
 * rejected webhook and dead letter quotes them.
 *
 * Why `export *` and namespace imports: esbuild drops the zod functions a bundle does not call
 * only when each module reaches them as `z.name` through a namespace import; re-exporting zod's
 * own `z` object as a value would keep all of zod in every bundle.
 */
config(en());

export * from 'zod/mini';
