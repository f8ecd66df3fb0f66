import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLinkStore } from '../../../lib/aws/links.js';
import { provisionStack } from '../../../tools/provision.js';
import { linesOf, runTool } from './run-tool.js';

const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'links-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function csvFile(lines: readonly string[]): Promise<string> {
  const file = join(dir, `${randomUUID()}.csv`);
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

async function provision() {
  return provisionStack({ prefix: `lc-${randomUUID().slice(0, 8)}` });
}

describe('npm run links (spawned, moto)', { timeout: 60_000 }, () => {
  it('imports the good rows, reports each bad row by line number without its values, and exits 1', async () => {
    const stack = await provision();
    const id = randomUUID().slice(0, 8);
    const shopKey = `shopify:s${id}.myshopify.com:customer:9`;
    const file = await csvFile([
      'contact_id,email,external_key,phone',
      `101,Ada.${id}@Example.com,,`,
      `x1,bad-${id}@example.com,,`,
      '102,,,(202) 555-0143',
      `103,not-an-email-${id},,`,
      `104,,${shopKey},`,
    ]);
    const run = await runTool('links', ['import', file], { STATE_TABLE_NAME: stack.STATE_TABLE_NAME });
    expect(run.code).toBe(1);
    expect(linesOf(run.stdout)).toEqual([
      'line 3: contact_id is not a positive integer',
      'line 5: email is not an email address',
      'imported 3 row(s), 2 bad, 0 failed to write',
    ]);
    for (const value of [id, '555', '0143', 'Ada']) {
      expect(run.stdout + run.stderr).not.toContain(value);
    }

    const store = createLinkStore({ client: doc, tableName: stack.STATE_TABLE_NAME });
    expect(await store.resolve({ email: `ada.${id}@example.com` })).toBe('101');
    expect(await store.resolve({ phone: '+12025550143' })).toBe('102');
    expect(await store.resolve({ externalKey: shopKey })).toBe('104');
    expect(await store.resolve({ email: `bad-${id}@example.com` })).toBeUndefined();
  });

  it('exits 0 when every row is imported', async () => {
    const stack = await provision();
    const id = randomUUID().slice(0, 8);
    const file = await csvFile(['contact_id,email', `7,g.${id}@example.com`, `8,h.${id}@example.com`]);
    const run = await runTool('links', ['import', file], { STATE_TABLE_NAME: stack.STATE_TABLE_NAME });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('imported 2 row(s), 0 bad, 0 failed to write\n');
    const store = createLinkStore({ client: doc, tableName: stack.STATE_TABLE_NAME });
    expect(await store.resolve({ email: `h.${id}@example.com` })).toBe('8');
  });

  it('prints the usage without a file, and a clear error for a missing file or variable', async () => {
    const missing = join(dir, 'missing.csv');
    const [usage, noFile, noTable] = await Promise.all([
      runTool('links', ['import']),
      runTool('links', ['import', missing], { STATE_TABLE_NAME: 'links-cli-unused' }),
      runTool('links', ['import', missing]),
    ]);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toContain('usage: npm run links -- import <file.csv>');

    expect(noFile.code).toBe(1);
    expect(noFile.stdout).toBe('');
    expect(noFile.stderr).toMatch(new RegExp(`^links: cannot read ${missing} \\(ENOENT\\)$`, 'm'));
    expect(noFile.stderr).not.toMatch(/^\s+at /m);

    expect(noTable.code).toBe(1);
    expect(noTable.stderr).toMatch(/^links: STATE_TABLE_NAME: required$/m);
  });
});
