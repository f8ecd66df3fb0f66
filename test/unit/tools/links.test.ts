import { describe, expect, it } from 'vitest';
import { createMemoryLinkStore } from '../../../lib/aws/links.js';
import { ConfigError } from '../../../lib/errors.js';
import { importLinks, parseLinksCsv } from '../../../tools/links.js';

describe('parseLinksCsv', () => {
  it('reads every key column, normalises emails and phones, and reports bad rows by line number only', () => {
    const csv = [
      'Contact_ID, email ,external_key,phone',
      '1,Ada@Example.COM,,',
      '2,,shopify:s.myshopify.com:customer:5,',
      '3,,,(202) 555-0143',
      'x7,ada@example.com,,',
      '4,not-an-email,,',
      '5,,,',
      '',
      '6,"quoted@example.com",,',
    ].join('\n');
    const { rows, bad } = parseLinksCsv(csv, 'US');
    expect(rows).toEqual([
      { line: 2, contactId: '1', keys: { email: 'ada@example.com' } },
      { line: 3, contactId: '2', keys: { externalKey: 'shopify:s.myshopify.com:customer:5' } },
      { line: 4, contactId: '3', keys: { phone: '+12025550143' } },
      { line: 9, contactId: '6', keys: { email: 'quoted@example.com' } },
    ]);
    expect(bad).toEqual([
      { line: 5, problem: 'contact_id is not a positive integer' },
      { line: 6, problem: 'email is not an email address' },
      { line: 7, problem: 'no email / external_key / phone value' },
    ]);
    expect(JSON.stringify(bad)).not.toContain('not-an-email');
  });

  it('reports a malformed file by line number and problem, never by the value around it', () => {
    for (const text of [
      'contact_id,email\n1,a@b.co\n2,jane.doe@example.com"x\n',
      'contact_id,email\n1,a@b.co\n2,"jane.doe@example.com"x\n',
      'contact_id,email\n1,a@b.co\n2,"jane.doe@example.com\n',
    ]) {
      let thrown: unknown;
      try {
        parseLinksCsv(text, 'US');
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      const problems = (thrown as ConfigError).problems.join('\n');
      expect(problems).toMatch(/line 3/);
      expect(`${problems} ${(thrown as Error).message}`).not.toContain('jane');
    }
  });

  it('refuses every row of a key that the file links to two contacts, in any spelling', () => {
    const csv = [
      'contact_id,email,phone,external_key',
      '1,Ada@Example.com,,',
      '2,,(202) 555-0143,',
      '3, ada@example.COM ,,',
      '4,,+1 202 555 0143,',
      '5,bob@example.com,,shop:c:9',
      '5,bob@example.com,,',
      '6,,,shop:c:9',
    ].join('\n');
    const { rows, bad } = parseLinksCsv(csv, 'US');
    expect(rows).toEqual([{ line: 7, contactId: '5', keys: { email: 'bob@example.com' } }]);
    expect(bad.map((row) => row.line)).toEqual([2, 3, 4, 5, 6, 8]);
    expect(bad.find((row) => row.line === 4)?.problem).toBe(
      'email is linked to another contact_id on line 2',
    );
    expect(bad.find((row) => row.line === 2)?.problem).toBe(
      'email is linked to another contact_id on line 4',
    );
    expect(bad.find((row) => row.line === 8)?.problem).toBe(
      'external_key is linked to another contact_id on line 6',
    );
    expect(JSON.stringify(bad)).not.toMatch(/ada|bob|555|shop:c/i);
  });

  it('refuses a file without contact_id or any key column', () => {
    expect(() => parseLinksCsv('id,email\n1,a@b.co\n', 'US')).toThrow(ConfigError);
    expect(() => parseLinksCsv('contact_id,name\n1,Ada\n', 'US')).toThrow(
      /at least one of email, external_key, phone/,
    );
  });
});

describe('importLinks', () => {
  it('writes every row and reports the ones that fail', async () => {
    const store = createMemoryLinkStore();
    const failing = {
      putLinks: async (contactId: string, keys: { email?: string | undefined }) => {
        if (contactId === '2') throw new Error('throttled');
        return store.putLinks(contactId, keys);
      },
    };
    const result = await importLinks(
      [
        { line: 2, contactId: '1', keys: { email: 'a@b.co' } },
        { line: 3, contactId: '2', keys: { email: 'c@d.co' } },
      ],
      failing,
    );
    expect(result).toEqual({
      imported: 1,
      failed: [{ line: 3, problem: 'could not be written (throttled)' }],
    });
    expect(await store.resolve({ email: 'a@b.co' })).toBe('1');
  });
});
