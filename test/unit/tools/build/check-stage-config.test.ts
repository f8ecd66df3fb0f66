import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  checkFunctionEnvironment,
  checkStageEnvironments,
} from '../../../../tools/build/check-stage-config.js';

const require = createRequire(import.meta.url);
const plugin = require('../../../../infra/check-stage-config.cjs') as {
  environments(service: unknown): Record<string, Record<string, string>>;
};

// What serverless.yml gives a function on a default stage (references resolved or left out).
const stageDefaults = {
  CLEARTALK_BASE_URL: 'https://api.cleartalk.ai',
  DEFAULT_PHONE_REGION: 'US',
  MAPPINGS_FILE: '',
  SHOPIFY_SHOP_DOMAIN: '',
  SHOPIFY_API_VERSION: '2026-10',
  MAX_RECEIVE_COUNT: '5',
};

describe('the stage configuration check before package and deploy', () => {
  it('accepts the default stage and a packaged mapping file', () => {
    expect(checkFunctionEnvironment(stageDefaults)).toEqual([]);
    expect(checkFunctionEnvironment({ ...stageDefaults, MAPPINGS_FILE: 'mappings/example.json' })).toEqual(
      [],
    );
  });

  it('reports what the functions would refuse at cold start, each problem once with its functions', () => {
    const bad = { ...stageDefaults, DEFAULT_PHONE_REGION: 'usa', MAPPINGS_FILE: 'mappings/nope.json' };
    expect(
      checkStageEnvironments({ applyPatches: bad, backfill: { ...bad, SHOPIFY_SHOP_DOMAIN: 'shop.com' } }),
    ).toEqual(
      [
        'DEFAULT_PHONE_REGION: must be a two-letter region code such as US or GB (applyPatches, backfill)',
        'MAPPINGS_FILE: cannot read mappings/nope.json (ENOENT) (applyPatches, backfill)',
        'SHOPIFY_SHOP_DOMAIN: must be <shop>.myshopify.com (backfill)',
      ].sort(),
    );
  });

  it('refuses a mapping file outside mappings/, which would not be packaged', () => {
    expect(
      checkFunctionEnvironment({ ...stageDefaults, MAPPINGS_FILE: 'test/fixtures/mappings.json' }),
    ).toEqual([
      'MAPPINGS_FILE: must be a file in mappings/ (mappings/<name>.json), got test/fixtures/mappings.json',
    ]);
    expect(
      checkFunctionEnvironment({ ...stageDefaults, MAPPINGS_FILE: 'mappings/../package.json' })[0],
    ).toMatch(/must be a file in mappings\//);
  });

  it('checks the variables serverless resolved to text and leaves CloudFormation references out', () => {
    const service = {
      provider: { environment: { POWERTOOLS_LOG_LEVEL: 'INFO' } },
      functions: {
        applyPatches: {
          environment: {
            PATCH_QUEUE_URL: { Ref: 'PatchQueue' },
            MAX_RECEIVE_COUNT: 5,
            DEFAULT_PHONE_REGION: 'US',
          },
        },
      },
    };
    expect(plugin.environments(service)).toEqual({
      applyPatches: { POWERTOOLS_LOG_LEVEL: 'INFO', MAX_RECEIVE_COUNT: '5', DEFAULT_PHONE_REGION: 'US' },
    });
  });
});
