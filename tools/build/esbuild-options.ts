import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BuildOptions, Plugin } from 'esbuild';
import { parse } from 'yaml';
import { PROJECT_ROOT } from './package.js';

/**
 * The esbuild options serverless-esbuild gets from serverless.yml (`custom.esbuild`), for builds
 * outside `serverless package` that must equal the deployed bundles (bench:cold-start, the
 * bundle-contents test), with a metafile.
 */
export function deployedBuildOptions(root = PROJECT_ROOT): BuildOptions {
  const doc = parse(readFileSync(join(root, 'serverless.yml'), 'utf8')) as {
    custom: { esbuild: Record<string, unknown> };
  };
  // Drop the serverless-esbuild-only keys; callers name the output.
  const {
    exclude,
    external,
    plugins,
    packager: _packager,
    outputFileExtension: _outputFileExtension,
    ...options
  } = doc.custom.esbuild;
  const pluginList = plugins ? (createRequire(import.meta.url)(join(root, String(plugins))) as Plugin[]) : [];
  return {
    ...(options as BuildOptions),
    external: [...((external as string[]) ?? []), ...((exclude as string[]) ?? [])],
    plugins: pluginList,
    metafile: true,
    logLevel: 'warning',
  };
}
