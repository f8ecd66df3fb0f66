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

describe('esbuild plugins of the deployed bundles', () => {
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
});
