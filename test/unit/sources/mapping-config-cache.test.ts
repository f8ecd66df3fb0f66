import { describe, expect, it } from 'vitest';
import {
  lookupShopifyShopSettings,
  lookupTypeformFormSettings,
  parseMappingConfig,
  shopifyShopSettings,
  typeformFormSettings,
} from '../../../lib/sources/mapping-config.js';

function config() {
  return parseMappingConfig(
    {
      version: 1,
      typeform: {
        defaults: { fieldMap: { work_email: 'email' }, tag: 'default-tag' },
        forms: { F1: { fieldMap: { mobile: 'phone' }, tag: 'form-tag', partialResponses: true } },
      },
      shopify: {
        defaults: { ignoreTopics: ['orders/create'] },
        shops: { 'a.myshopify.com': { contactIdMetafield: { namespace: 'crm', key: 'id' } } },
      },
    },
    'test',
  );
}

describe('lookupTypeformFormSettings', () => {
  it('equals typeformFormSettings for a form with and without an override', () => {
    const mapping = config();
    for (const formId of ['F1', 'other', 'constructor', '__proto__']) {
      expect(lookupTypeformFormSettings(mapping, formId)).toEqual(typeformFormSettings(mapping, formId));
    }
  });

  it('returns the same object on every call for the same configuration and form', () => {
    const mapping = config();
    expect(lookupTypeformFormSettings(mapping, 'F1')).toBe(lookupTypeformFormSettings(mapping, 'F1'));
    expect(lookupTypeformFormSettings(mapping, 'F1')).not.toBe(lookupTypeformFormSettings(mapping, 'x'));
  });

  it('shares one entry between all forms without an override', () => {
    const mapping = config();
    expect(lookupTypeformFormSettings(mapping, 'made-up-1')).toBe(
      lookupTypeformFormSettings(mapping, 'made-up-2'),
    );
  });

  it('keys the cache by configuration object', () => {
    const first = config();
    const second = parseMappingConfig(
      { version: 1, typeform: { forms: { F1: { tag: 'other-tag' } } } },
      'second',
    );
    expect(lookupTypeformFormSettings(first, 'F1').tag).toBe('form-tag');
    expect(lookupTypeformFormSettings(second, 'F1').tag).toBe('other-tag');
  });

  it('hands out frozen settings so one caller cannot change the next delivery', () => {
    const settings = lookupTypeformFormSettings(config(), 'F1');
    expect(Object.isFrozen(settings)).toBe(true);
    expect(Object.isFrozen(settings.fieldMap)).toBe(true);
    expect(Object.isFrozen(settings.hiddenFieldsToCustomField)).toBe(true);
    expect(() => {
      (settings.fieldMap as Record<string, string>).x = 'email';
    }).toThrow(TypeError);
  });
});

describe('lookupShopifyShopSettings', () => {
  it('equals shopifyShopSettings per shop, cached per shop and configuration', () => {
    const mapping = config();
    for (const shop of ['a.myshopify.com', 'b.myshopify.com']) {
      expect(lookupShopifyShopSettings(mapping, shop)).toEqual(shopifyShopSettings(mapping, shop));
      expect(lookupShopifyShopSettings(mapping, shop)).toBe(lookupShopifyShopSettings(mapping, shop));
    }
    expect(lookupShopifyShopSettings(mapping, 'a.myshopify.com').contactIdMetafield).toEqual({
      namespace: 'crm',
      key: 'id',
    });
    expect(lookupShopifyShopSettings(mapping, 'b.myshopify.com')).toBe(
      lookupShopifyShopSettings(mapping, 'c.myshopify.com'),
    );
    expect(Object.isFrozen(lookupShopifyShopSettings(mapping, 'b.myshopify.com').ignoreTopics)).toBe(true);
  });
});
