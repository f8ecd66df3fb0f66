import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../../lib/config.js';
import { PROJECT_ROOT } from '../../../tools/build/package.js';

// A deployed stage takes these settings from serverless.yml's default parameters; a local run,
// `serverless invoke local` and the tests take them from lib/config.ts's defaults. The two must
// agree, or the product behaves differently once deployed.
const params = (
  parse(readFileSync(join(PROJECT_ROOT, 'serverless.yml'), 'utf8')) as {
    params: { default: Record<string, unknown> };
  }
).params.default;
const defaults = loadConfig({});

describe('serverless.yml default parameters', () => {
  it('match the defaults lib/config.ts applies when a variable is unset', () => {
    expect({
      cleartalkBaseUrl: params.cleartalkBaseUrl,
      typeformApiBaseUrl: params.typeformApiBaseUrl,
      shopifyApiVersion: params.shopifyApiVersion,
      defaultPhoneRegion: params.defaultPhoneRegion,
      maxReceiveCount: params.maxReceiveCount,
    }).toEqual({
      cleartalkBaseUrl: defaults.CLEARTALK_BASE_URL,
      typeformApiBaseUrl: defaults.TYPEFORM_API_BASE_URL,
      shopifyApiVersion: defaults.SHOPIFY_API_VERSION,
      defaultPhoneRegion: defaults.DEFAULT_PHONE_REGION,
      maxReceiveCount: defaults.MAX_RECEIVE_COUNT,
    });
  });

  it('pin a Shopify Admin API version by its quarterly release name', () => {
    // Shopify releases YYYY-01, -04, -07 and -10; any other name is not a stable version.
    expect(defaults.SHOPIFY_API_VERSION).toMatch(/^20\d\d-(?:01|04|07|10)$/);
  });
});
