import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../../tools/build/package.js';

const require = createRequire(import.meta.url);
const plugins = require(join(PROJECT_ROOT, 'tools/build/esbuild-plugins.cjs')) as Plugin[];
const work = mkdtempSync(join(tmpdir(), 'esbuild-plugins-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Bundles `source` as the deployed functions are bundled, with or without our plugins, and loads it. */
async function bundle<T>(name: string, source: string, withPlugins: boolean) {
  const entry = join(work, `${name}.ts`);
  writeFileSync(entry, source);
  const outfile = join(work, `${name}-${withPlugins}.cjs`);
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'cjs',
    outfile,
    nodePaths: [join(PROJECT_ROOT, 'node_modules')],
    plugins: withPlugins ? plugins : [],
    metafile: true,
    logLevel: 'silent',
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  return { bytes, code: readFileSync(outfile, 'utf8'), module: require(outfile) as T };
}

const ZOD_ENTRY =
  "import * as z from 'zod';\nexport const issue = z.object({ a: z.string() }).safeParse({ a: 1 }).error?.issues[0]?.message;\nexport const locales = Object.keys(z.locales);\n";

describe('esbuild plugins of the deployed bundles', () => {
  it('keep zod English only: same messages, about 250 KB smaller', async () => {
    type Zod = { issue: string; locales: string[] };
    const full = await bundle<Zod>('entry', ZOD_ENTRY, false);
    const trimmed = await bundle<Zod>('entry', ZOD_ENTRY, true);
    expect(trimmed.module.issue).toBe(full.module.issue);
    expect(trimmed.module.issue).toMatch(/expected string, received number/);
    expect(trimmed.module.locales).toEqual(['en']);
    expect(full.module.locales.length).toBeGreaterThan(30);
    expect(full.bytes - trimmed.bytes).toBeGreaterThan(200 * 1024);
  });

  it('load the phone metadata with JSON.parse: the same metadata and phone numbers', async () => {
    const source =
      "import { getCountries, parsePhoneNumberFromString } from 'libphonenumber-js/min';\n" +
      "import metadata from 'libphonenumber-js/metadata.min.json';\n" +
      'export { metadata };\n' +
      'export const countries = getCountries().length;\n' +
      "export const numbers = ['+44 20 7946 0958', '(415) 555-2671', '+49 30 901820'].map((n) => parsePhoneNumberFromString(n, 'US')?.number);\n";
    const load = (withPlugins: boolean) =>
      bundle<{ metadata: unknown; countries: number; numbers: string[] }>('phone', source, withPlugins);
    const literal = await load(false);
    const parsed = await load(true);
    expect(parsed.code).toContain('JSON.parse(\'{"version":4');
    expect(literal.code).not.toContain('JSON.parse(\'{"version":4');
    expect(parsed.module.metadata).toEqual(literal.module.metadata);
    expect(parsed.module.countries).toBe(literal.module.countries);
    expect(parsed.module.numbers).toEqual(['+442079460958', '+14155552671', '+4930901820']);
    expect(parsed.module.numbers).toEqual(literal.module.numbers);
  });
  it('leave zod JSON Schema generation out: same parsing and issues, a loud error on toJSONSchema, ~17 KB smaller', async () => {
    const source =
      "import * as z from 'zod';\n" +
      'const schema = z.strictObject({ id: z.string().regex(/^[0-9]+$/), tags: z.array(z.string().min(1)).default([]), n: z.coerce.number().int().optional() });\n' +
      "export const ok = schema.safeParse({ id: '42', n: '7' });\n" +
      "export const bad = schema.safeParse({ id: 'x', tags: [''], extra: 1 }).error?.issues;\n" +
      "export const standard = schema['~standard'].validate({ id: 'y' });\n" +
      'const attempt = (f: () => unknown) => { try { return f(); } catch (error) { return (error as Error).message; } };\n' +
      'export const jsonSchema = attempt(() => schema.toJSONSchema());\n' +
      "export const standardJsonSchema = attempt(() => schema['~standard'].jsonSchema.input({ target: 'draft-2020-12' }));\n";
    type Out = {
      ok: unknown;
      bad: unknown;
      standard: unknown;
      jsonSchema: unknown;
      standardJsonSchema: unknown;
    };
    const full = await bundle<Out>('json-schema', source, false);
    const trimmed = await bundle<Out>('json-schema', source, true);
    expect(trimmed.module.ok).toEqual({ success: true, data: { id: '42', tags: [], n: 7 } });
    expect(trimmed.module.ok).toEqual(full.module.ok);
    expect(trimmed.module.bad).toEqual(full.module.bad);
    expect(trimmed.module.standard).toEqual(full.module.standard);
    expect(full.module.jsonSchema).toMatchObject({ type: 'object', properties: { id: { type: 'string' } } });
    expect(trimmed.module.jsonSchema).toMatch(/JSON Schema generation is left out of the Lambda bundles/);
    expect(trimmed.module.standardJsonSchema).toMatch(
      /JSON Schema generation is left out of the Lambda bundles/,
    );
    expect(full.bytes - trimmed.bytes).toBeGreaterThan(12 * 1024);
  });
});
