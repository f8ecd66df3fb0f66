import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { deployedBuildOptions } from '../../../../tools/build/esbuild-options.js';
import { PROJECT_ROOT } from '../../../../tools/build/package.js';
import { loadServerlessFunctions } from '../../../../tools/local/http-api.js';

// What each deployed function bundles of zod (serverless.yml's esbuild options). The code reaches
// zod only as `import * as z from '<lib>/zod.js'` (zod/mini + English). A classic `zod` import
// anywhere in a function's graph, or zod's own `z` object used as a value, would put most of zod
// back in the bundle (about 145 KB instead of 40-70) and cost cold-start time; so would a locale
// or JSON Schema generation that no function uses.
const functions = loadServerlessFunctions(join(PROJECT_ROOT, 'serverless.yml'));

async function zodInputs(modulePath: string): Promise<Map<string, number>> {
  const result = await build({
    ...deployedBuildOptions(),
    entryPoints: [join(PROJECT_ROOT, modulePath)],
    outfile: join(PROJECT_ROOT, '.esbuild', 'bundle-contents.cjs'),
    write: false,
  });
  const output = Object.values(result.metafile?.outputs ?? {}).find((o) => o.entryPoint);
  const inputs = new Map<string, number>();
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const at = path.indexOf('node_modules/zod/');
    if (at >= 0 && input.bytesInOutput > 0)
      inputs.set(path.slice(at + 'node_modules/zod/'.length), input.bytesInOutput);
  }
  return inputs;
}

describe('deployed bundles', () => {
  it('cover every function in serverless.yml', () => {
    expect(functions.map((f) => f.name).sort()).toEqual([
      'applyPatches',
      'backfill',
      'shopifyEventbridge',
      'shopifyWebhook',
      'typeformWebhook',
    ]);
  });

  it.each(functions)('$name bundles zod mini with English messages only', async ({ modulePath }) => {
    const inputs = await zodInputs(modulePath);
    const paths = [...inputs.keys()];
    expect(paths.some((p) => p.startsWith('v4/mini/'))).toBe(true);
    expect(paths.filter((p) => p.startsWith('v4/classic/') || p.startsWith('v3/'))).toEqual([]);
    expect(paths.filter((p) => p.startsWith('v4/locales/'))).toEqual(['v4/locales/en.js']);
    expect(paths.filter((p) => /json-schema/.test(p))).toEqual([]);
    const bytes = [...inputs.values()].reduce((sum, n) => sum + n, 0);
    expect(bytes).toBeLessThan(100 * 1024);
  });
});
