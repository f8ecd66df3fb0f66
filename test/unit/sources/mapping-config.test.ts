import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/errors.js';
import {
  backfillFormIds,
  loadMappingConfig,
  parseMappingConfig,
  shopifyShopSettings,
  sourcePolicy,
  typeformFormSettings,
} from '../../../lib/sources/mapping-config.js';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

function writeTemp(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'mappings-')), name);
  writeFileSync(path, text);
  return path;
}

describe('parseMappingConfig', () => {
  it('gives DESIGN.md defaults for an empty object', () => {
    const config = parseMappingConfig({}, 'test');
    expect(typeformFormSettings(config, 'anyForm')).toEqual({
      fieldMap: {
        first_name: 'firstName',
        last_name: 'lastName',
        email: 'email',
        phone: 'phone',
        date_of_birth: 'dateOfBirth',
      },
      contactIdHiddenField: 'contact_id',
      hiddenFieldsToCustomField: [],
      copyUnmappedAnswers: true,
      partialResponses: false,
      ignored: false,
      backfill: false,
    });
    expect(shopifyShopSettings(config, 'shop.myshopify.com')).toEqual({
      ignoreTopics: [],
      contactIdMetafield: { namespace: 'cleartalk', key: 'contact_id' },
    });
    expect(sourcePolicy(config, 'typeform')).toEqual({ createIfUnresolved: false });
    expect(backfillFormIds(config)).toEqual([]);
  });

  it('reports every problem at once, with its path', () => {
    const problems = problemsOf(() =>
      parseMappingConfig(
        {
          version: 2,
          typeform: {
            defaults: { fieldMap: { email: 'emailAddress' }, partialResponses: 'yes' },
            forms: { 'not a form id!': {} },
          },
          shopify: { shops: { 'shop.example.com': {} }, defaults: { ignoreTopics: ['customers-update'] } },
          worker: { sources: { typeform: { createIfUnresolved: 'true' } } },
          extra: true,
        },
        'my-mappings.json',
      ),
    );
    expect(problems.length).toBeGreaterThanOrEqual(8);
    expect(problems.every((problem) => problem.startsWith('my-mappings.json: '))).toBe(true);
    const text = problems.join('\n');
    for (const path of [
      'version',
      'typeform.defaults.fieldMap.email',
      'typeform.defaults.partialResponses',
      'typeform.forms.not a form id!',
      'shopify.shops.shop.example.com',
      'shopify.defaults.ignoreTopics.0',
      'worker.sources.typeform.createIfUnresolved',
    ]) {
      expect(text).toContain(`my-mappings.json: ${path}`);
    }
    expect(text).toMatch(/extra/);
    expect(text).toContain('typeform.forms.not a form id!: a Typeform form id is letters and digits');
    expect(text).toContain(
      'shopify.shops.shop.example.com: a shop is keyed by its <shop>.myshopify.com domain',
    );
  });

  it('rejects a misspelt setting instead of silently using the default', () => {
    const problems = problemsOf(() =>
      parseMappingConfig({ typeform: { forms: { lT4Z3j: { partialResponse: true } } } }, 'f'),
    );
    expect(problems.join('\n')).toMatch(/partialResponse/);
  });

  it('rejects a form that is both ignored and backfilled', () => {
    const problems = problemsOf(() =>
      parseMappingConfig({ typeform: { forms: { lT4Z3j: { ignored: true, backfill: true } } } }, 'f'),
    );
    expect(problems).toEqual(['f: typeform.forms.lT4Z3j: a form cannot be both ignored and backfilled']);
  });

  it('accepts $comment on any object', () => {
    expect(() =>
      parseMappingConfig(
        {
          $comment: 'top',
          typeform: { $comment: 't', defaults: { $comment: 'd' }, forms: { lT4Z3j: { $comment: 'f' } } },
          shopify: { defaults: { contactIdMetafield: { $comment: 'm', namespace: 'a', key: 'b' } } },
          worker: { $comment: 'w', defaults: { $comment: 'x' } },
        },
        'f',
      ),
    ).not.toThrow();
  });
});

describe('typeformFormSettings', () => {
  const config = parseMappingConfig(
    {
      typeform: {
        defaults: { hiddenFieldsToCustomField: ['utm_source'], listName: 'All', contactSource: 'Typeform' },
        forms: {
          lT4Z3j: {
            fieldMap: { work_email: 'email', email: 'skip' },
            hiddenFieldsToCustomField: ['campaign'],
            partialResponses: true,
            contactSource: null,
            tag: 'lead',
          },
        },
      },
    },
    'f',
  );

  it('merges a form override over the defaults, fieldMap key by key', () => {
    const settings = typeformFormSettings(config, 'lT4Z3j');
    expect(settings.fieldMap).toEqual({
      first_name: 'firstName',
      last_name: 'lastName',
      email: 'skip',
      work_email: 'email',
      phone: 'phone',
      date_of_birth: 'dateOfBirth',
    });
    expect(settings.hiddenFieldsToCustomField).toEqual(['campaign']);
    expect(settings.partialResponses).toBe(true);
    expect(settings.listName).toBe('All');
    expect(settings.tag).toBe('lead');
  });

  it('clears a default label with null', () => {
    expect(typeformFormSettings(config, 'lT4Z3j')).not.toHaveProperty('contactSource');
    expect(typeformFormSettings(config, 'other').contactSource).toBe('Typeform');
  });

  it('gives other forms the defaults and never shares mutable state between calls', () => {
    const first = typeformFormSettings(config, 'other');
    first.fieldMap.extra = 'tag';
    first.hiddenFieldsToCustomField.push('mutated');
    const second = typeformFormSettings(config, 'other');
    expect(second.fieldMap).not.toHaveProperty('extra');
    expect(second.hiddenFieldsToCustomField).toEqual(['utm_source']);
  });

  it('does not treat inherited object keys as form ids', () => {
    expect(typeformFormSettings(config, 'constructor').partialResponses).toBe(false);
    expect(typeformFormSettings(config, '__proto__').partialResponses).toBe(false);
  });
});

describe('shopifyShopSettings', () => {
  it('merges a shop override over the defaults', () => {
    const config = parseMappingConfig(
      {
        shopify: {
          defaults: { ignoreTopics: ['orders/paid'], tag: 'shop' },
          shops: {
            'demo.myshopify.com': {
              contactIdMetafield: { namespace: 'custom', key: 'ct_id' },
              ignoreTopics: [],
            },
          },
        },
      },
      'f',
    );
    expect(shopifyShopSettings(config, 'demo.myshopify.com')).toEqual({
      ignoreTopics: [],
      contactIdMetafield: { namespace: 'custom', key: 'ct_id' },
      tag: 'shop',
    });
    expect(shopifyShopSettings(config, 'other.myshopify.com').ignoreTopics).toEqual(['orders/paid']);
  });
});

describe('sourcePolicy', () => {
  const config = parseMappingConfig(
    {
      worker: { defaults: { createIfUnresolved: false }, sources: { shopify: { createIfUnresolved: true } } },
    },
    'f',
  );

  it('gives a named source its own policy', () => {
    expect(sourcePolicy(config, 'shopify')).toEqual({ createIfUnresolved: true });
  });

  it('gives an unknown source the defaults, matching names exactly', () => {
    expect(sourcePolicy(config, 'crm-export')).toEqual({ createIfUnresolved: false });
    expect(sourcePolicy(config, 'backfill:shopify')).toEqual({ createIfUnresolved: false });
    expect(sourcePolicy(config, 'toString')).toEqual({ createIfUnresolved: false });
  });

  it('lets the defaults turn creation on for every source', () => {
    const everywhere = parseMappingConfig({ worker: { defaults: { createIfUnresolved: true } } }, 'f');
    expect(sourcePolicy(everywhere, 'anything')).toEqual({ createIfUnresolved: true });
  });
});

describe('backfillFormIds', () => {
  it('lists the configured forms whose effective backfill is on', () => {
    const config = parseMappingConfig(
      {
        typeform: {
          defaults: { backfill: true },
          forms: { aaa111: {}, bbb222: { backfill: false }, ccc333: { ignored: true, backfill: false } },
        },
      },
      'f',
    );
    expect(backfillFormIds(config)).toEqual(['aaa111']);
  });

  it('leaves out an ignored form that inherits backfill from the defaults', () => {
    const config = parseMappingConfig(
      { typeform: { defaults: { backfill: true }, forms: { aaa111: {}, ddd444: { ignored: true } } } },
      'f',
    );
    expect(backfillFormIds(config)).toEqual(['aaa111']);
  });
});

describe('loadMappingConfig', () => {
  it('loads the bundled defaults without a path', () => {
    const config = loadMappingConfig(undefined);
    expect(typeformFormSettings(config, 'x').contactIdHiddenField).toBe('contact_id');
    expect(loadMappingConfig('  ')).toEqual(config);
  });

  it('loads the example file shipped in mappings/', () => {
    const config = loadMappingConfig('mappings/example.json');
    expect(backfillFormIds(config)).toEqual(['lT4Z3j', 'Xy12Ab']);
    expect(sourcePolicy(config, 'shopify').createIfUnresolved).toBe(true);
  });

  it('loads a file and reports its problems with its path', () => {
    const good = writeTemp('good.json', JSON.stringify({ typeform: { forms: { abc: { tag: 'x' } } } }));
    expect(typeformFormSettings(loadMappingConfig(good), 'abc').tag).toBe('x');
    const bad = writeTemp('bad.json', JSON.stringify({ typeform: { forms: { abc: { tag: '' } } } }));
    expect(problemsOf(() => loadMappingConfig(bad))).toEqual([
      `${bad}: typeform.forms.abc.tag: cannot be empty`,
    ]);
  });

  it('names a missing file and a file that is not JSON', () => {
    expect(problemsOf(() => loadMappingConfig('/nonexistent/mappings.json'))).toEqual([
      'MAPPINGS_FILE: cannot read /nonexistent/mappings.json (ENOENT)',
    ]);
    const notJson = writeTemp('x.json', '{ "typeform": ');
    expect(problemsOf(() => loadMappingConfig(notJson))[0]).toMatch(/not valid JSON/);
  });
});
