import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

async function bundle(withPlugins: boolean) {
  const entry = join(work, 'entry.ts');
  writeFileSync(
    entry,
    "import * as z from 'zod';\nexport const issue = z.object({ a: z.string() }).safeParse({ a: 1 }).error?.issues[0]?.message;\nexport const locales = Object.keys(z.locales);\n",
  );
  const outfile = join(work, `out-${withPlugins}.cjs`);
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
  return { bytes, module: require(outfile) as { issue: string; locales: string[] } };
}

describe('esbuild plugins of the deployed bundles', () => {
  it('keep zod English only: same messages, about 250 KB smaller', async () => {
    const full = await bundle(false);
    const trimmed = await bundle(true);
    expect(trimmed.module.issue).toBe(full.module.issue);
    expect(trimmed.module.issue).toMatch(/expected string, received number/);
    expect(trimmed.module.locales).toEqual(['en']);
    expect(full.module.locales.length).toBeGreaterThan(30);
    expect(full.bytes - trimmed.bytes).toBeGreaterThan(200 * 1024);
  });
});
