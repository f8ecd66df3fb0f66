import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import * as pacing from '../../lib/backfill/pacing.js';
import * as backfill from '../../lib/backfill/run-backfill.js';
import * as clearTalkErrors from '../../lib/cleartalk/errors.js';
import * as errors from '../../lib/errors.js';
import { deployedBuildOptions } from '../../tools/build/esbuild-options.js';
import { PROJECT_ROOT } from '../../tools/build/package.js';

type ErrorFactory = (module: Record<string, new (...args: never[]) => Error>) => Error;

// One instance of every error class of the two modules, by its exported name.
const factories: Record<string, ErrorFactory> = {
  SyncError: (m) => new (m.SyncError as typeof errors.SyncError)('x', { code: 'c', retryable: false }),
  ConfigError: (m) => new (m.ConfigError as typeof errors.ConfigError)(['p']),
  ValidationError: (m) => new (m.ValidationError as typeof errors.ValidationError)('x'),
  SignatureError: (m) => new (m.SignatureError as typeof errors.SignatureError)('x'),
  ConflictError: (m) => new (m.ConflictError as typeof errors.ConflictError)('x'),
  DependencyError: (m) => new (m.DependencyError as typeof errors.DependencyError)('sqs', 'x'),
  ClearTalkError: (m) =>
    new (m.ClearTalkError as typeof clearTalkErrors.ClearTalkError)('x', { code: 'c', retryable: false }),
  ClearTalkRetryableError: (m) =>
    new (m.ClearTalkRetryableError as typeof clearTalkErrors.ClearTalkRetryableError)('x'),
  ClearTalkPermanentError: (m) =>
    new (m.ClearTalkPermanentError as typeof clearTalkErrors.ClearTalkPermanentError)('x', {
      code: 'rejected',
    }),
  ClearTalkAuthError: (m) => new (m.ClearTalkAuthError as typeof clearTalkErrors.ClearTalkAuthError)('x'),
  ClearTalkInvalidResponseError: (m) =>
    new (m.ClearTalkInvalidResponseError as typeof clearTalkErrors.ClearTalkInvalidResponseError)('x'),
  InvalidContactIdError: (m) =>
    new (m.InvalidContactIdError as typeof clearTalkErrors.InvalidContactIdError)('x'),
  ClearTalkTransportError: (m) =>
    new (m.ClearTalkTransportError as typeof clearTalkErrors.ClearTalkTransportError)('x', {
      code: undefined,
      reusedSocket: false,
    }),
  DeadlineReachedError: (m) => new (m.DeadlineReachedError as typeof pacing.DeadlineReachedError)(),
  BackfillFailedError: (m) =>
    new (m.BackfillFailedError as typeof backfill.BackfillFailedError)(['typeform f (config)']),
};

// Every module under lib/ that exports an error class.
const errorModules = { ...errors, ...clearTalkErrors, ...pacing, ...backfill };

describe('error names', () => {
  it('covers every error class the modules export', () => {
    const exported = Object.entries(errorModules)
      .filter(([, value]) => typeof value === 'function' && value.prototype instanceof Error)
      .map(([name]) => name);
    expect(exported.sort()).toEqual(Object.keys(factories).sort());
  });

  it('knows every error class declared under lib/', () => {
    const declared = readdirSync(join(PROJECT_ROOT, 'lib'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .flatMap((file) => [
        ...readFileSync(join(PROJECT_ROOT, 'lib', file), 'utf8').matchAll(/class (\w+) extends \w*Error\b/g),
      ])
      .map((match) => match[1]);
    expect(declared.sort()).toEqual(Object.keys(factories).sort());
  });

  it('names each error after its class in the source', () => {
    const modules = errorModules as unknown as Record<string, new (...args: never[]) => Error>;
    for (const [name, make] of Object.entries(factories)) expect(make(modules).name).toBe(name);
  });

  // Lambda reports `errorType` from `error.name`, and the logs print it: in the minified bundles
  // serverless.yml deploys (no keepNames), a name taken from the class would read "r" or "Xe".
  it('keeps each name in a bundle built with the deployed esbuild options', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'error-names-'));
    try {
      const entry = join(dir, 'entry.ts');
      await writeFile(
        entry,
        `export * from ${JSON.stringify(join(PROJECT_ROOT, 'lib/errors.ts'))};\n` +
          `export * from ${JSON.stringify(join(PROJECT_ROOT, 'lib/cleartalk/errors.ts'))};\n` +
          `export { DeadlineReachedError } from ${JSON.stringify(join(PROJECT_ROOT, 'lib/backfill/pacing.ts'))};\n` +
          `export { BackfillFailedError } from ${JSON.stringify(join(PROJECT_ROOT, 'lib/backfill/run-backfill.ts'))};\n`,
      );
      const outfile = join(dir, 'bundle.cjs');
      await build({ ...deployedBuildOptions(), entryPoints: [entry], outfile, sourcemap: false });
      const bundled = createRequire(import.meta.url)(outfile) as Record<
        string,
        new (
          ...args: never[]
        ) => Error
      >;
      const names = Object.fromEntries(
        Object.entries(factories).map(([name, make]) => [name, make(bundled).name]),
      );
      expect(names).toEqual(Object.fromEntries(Object.keys(factories).map((name) => [name, name])));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
