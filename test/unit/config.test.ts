import { describe, expect, it } from 'vitest';
import { loadConfig, shopifyAdminBaseUrl } from '../../lib/config.js';
import { ConfigError } from '../../lib/errors.js';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({});
    expect(config.CLEARTALK_BASE_URL).toBe('https://api.cleartalk.ai');
    expect(config.TYPEFORM_API_BASE_URL).toBe('https://api.typeform.com');
    expect(config.DEFAULT_PHONE_REGION).toBe('US');
    expect(config.CLEARTALK_TIMEOUT_MS).toBe(10_000);
  });

  it('reports every missing and invalid variable at once, without values', () => {
    try {
      loadConfig({ DEFAULT_PHONE_REGION: 'usa', CLEARTALK_BASE_URL: 'not a url' }, [
        'PATCH_QUEUE_URL',
        'STATE_TABLE_NAME',
      ]);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems.join('\n');
      expect(problems).toContain('DEFAULT_PHONE_REGION');
      expect(problems).toContain('CLEARTALK_BASE_URL');
      expect(problems).toContain('PATCH_QUEUE_URL: required');
      expect(problems).toContain('STATE_TABLE_NAME: required');
      expect(problems).not.toContain('not a url');
    }
  });

  it('takes a breaker threshold of at most 20, the outcomes the breaker looks at', () => {
    expect(loadConfig({}).BREAKER_FAILURE_THRESHOLD).toBe(10);
    expect(loadConfig({ BREAKER_FAILURE_THRESHOLD: '20' }).BREAKER_FAILURE_THRESHOLD).toBe(20);
    expect(() => loadConfig({ BREAKER_FAILURE_THRESHOLD: '21' })).toThrow(/BREAKER_FAILURE_THRESHOLD/);
    expect(() => loadConfig({ BREAKER_FAILURE_THRESHOLD: '0' })).toThrow(/BREAKER_FAILURE_THRESHOLD/);
  });

  it('names each required variable that is missing', () => {
    expect(() => loadConfig({ PATCH_QUEUE_URL: 'q' }, ['PATCH_QUEUE_URL', 'STATE_TABLE_NAME'])).toThrow(
      /STATE_TABLE_NAME: required/,
    );
  });

  it('treats an empty variable as unset', () => {
    expect(() => loadConfig({ PATCH_QUEUE_URL: '  ' }, ['PATCH_QUEUE_URL'])).toThrow(/PATCH_QUEUE_URL/);
  });

  it('derives the Shopify Admin base from the shop domain', () => {
    expect(shopifyAdminBaseUrl(loadConfig({ SHOPIFY_SHOP_DOMAIN: 'acme.myshopify.com' }))).toBe(
      'https://acme.myshopify.com',
    );
    expect(
      shopifyAdminBaseUrl(
        loadConfig({
          SHOPIFY_SHOP_DOMAIN: 'acme.myshopify.com',
          SHOPIFY_ADMIN_BASE_URL: 'http://127.0.0.1:9/',
        }),
      ),
    ).toBe('http://127.0.0.1:9');
  });
});
