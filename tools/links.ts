/**
 * `npm run links -- import <file.csv>`: bulk-loads links (email, external key or phone ->
 * ClearTalk contact id) into the state table, so existing ClearTalk contacts can be matched.
 *
 * The CSV has a header row with `contact_id` and at least one of `email`, `external_key`,
 * `phone`; a row needs a contact id and at least one non-empty key. Bad rows are reported by
 * line number (never by value) and skipped, and so is every row of a key that the file links to
 * two different contact ids (rows are written in parallel: which link won would be chance); the
 * rest is imported. Uses STATE_TABLE_NAME and DEFAULT_PHONE_REGION, and the AWS SDK's own
 * settings (AWS_ENDPOINT_URL, AWS_REGION).
 * Exit codes: 0 every row imported, 1 some rows bad or not written (or the file, the header or
 * the configuration is wrong), 2 bad usage.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CsvError, parse } from 'csv-parse/sync';
import { createLinkStore, type LinkKeys, type LinkStore } from '../lib/aws/links.js';
import { isContactId } from '../lib/cleartalk/schemas.js';
import { loadConfig } from '../lib/config.js';
import { ConfigError } from '../lib/errors.js';
import { normaliseEmail, normalisePhone } from '../lib/sources/normalise.js';

export const LINK_COLUMNS = ['email', 'external_key', 'phone'] as const;

/** One usable row of the file. */
export interface LinkRow {
  readonly line: number;
  readonly contactId: string;
  readonly keys: LinkKeys;
}

export interface BadRow {
  readonly line: number;
  readonly problem: string;
}

/**
 * Parses and checks a links CSV (pure). Emails are trimmed and lower-cased, phones made E.164
 * with `defaultPhoneRegion`.
 * @throws {ConfigError} when the header lacks `contact_id` or every key column
 */
export function parseLinksCsv(text: string, defaultPhoneRegion: string): { rows: LinkRow[]; bad: BadRow[] } {
  let header: string[] = [];
  let records: Array<{ record: Record<string, string | undefined>; info: { lines: number } }>;
  try {
    records = parse(text, {
      columns: (names: string[]) => {
        header = names.map((name) => name.trim().toLowerCase());
        return header;
      },
      skip_empty_lines: true,
      trim: true,
      bom: true,
      relax_column_count: true,
      info: true,
    });
  } catch (error) {
    // csv-parse's own message quotes the field it choked on (an email, a phone): line and code only.
    if (!(error instanceof CsvError)) throw error;
    throw new ConfigError([`the file is not valid CSV at line ${error.lines} (${error.code})`]);
  }
  const problems: string[] = [];
  if (!header.includes('contact_id')) problems.push('the header needs a contact_id column');
  if (!LINK_COLUMNS.some((column) => header.includes(column))) {
    problems.push(`the header needs at least one of ${LINK_COLUMNS.join(', ')}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const rows: LinkRow[] = [];
  const bad: BadRow[] = [];
  for (const { record, info } of records) {
    const line = info.lines;
    const rowProblems: string[] = [];
    const contactId = record.contact_id ?? '';
    if (!isContactId(contactId)) rowProblems.push('contact_id is not a positive integer');
    const keys: { externalKey?: string; email?: string; phone?: string } = {};
    if (record.external_key) keys.externalKey = record.external_key;
    if (record.email) {
      const email = normaliseEmail(record.email);
      if (email) keys.email = email;
      else rowProblems.push('email is not an email address');
    }
    if (record.phone) {
      const phone = normalisePhone(record.phone, defaultPhoneRegion);
      if (phone) keys.phone = phone;
      else rowProblems.push('phone is not a phone number');
    }
    if (rowProblems.length === 0 && Object.keys(keys).length === 0) {
      rowProblems.push(`no ${LINK_COLUMNS.join(' / ')} value`);
    }
    if (rowProblems.length > 0) bad.push({ line, problem: rowProblems.join('; ') });
    else rows.push({ line, contactId, keys });
  }
  return refuseConflicts(rows, bad);
}

const KEY_COLUMNS = { externalKey: 'external_key', email: 'email', phone: 'phone' } as const;

/**
 * Moves to `bad` every row whose key (as normalised) another row links to a different contact id:
 * the rows are written in parallel, so which link would win is chance (pure).
 */
function refuseConflicts(
  rows: readonly LinkRow[],
  bad: readonly BadRow[],
): { rows: LinkRow[]; bad: BadRow[] } {
  const owners = new Map<string, Array<{ contactId: string; line: number }>>();
  const keysOf = (row: LinkRow) =>
    (Object.keys(KEY_COLUMNS) as Array<keyof typeof KEY_COLUMNS>)
      .filter((name) => row.keys[name] !== undefined)
      .map((name) => ({ column: KEY_COLUMNS[name], id: `${name}\n${row.keys[name]}` }));
  for (const row of rows) {
    for (const { id } of keysOf(row)) {
      const list = owners.get(id) ?? [];
      if (!list.some((owner) => owner.contactId === row.contactId)) list.push(row);
      owners.set(id, list);
    }
  }
  const kept: LinkRow[] = [];
  const refused: BadRow[] = [...bad];
  for (const row of rows) {
    const problems = keysOf(row).flatMap(({ column, id }) => {
      const other = owners.get(id)?.find((owner) => owner.contactId !== row.contactId);
      return other ? [`${column} is linked to another contact_id on line ${other.line}`] : [];
    });
    if (problems.length > 0) refused.push({ line: row.line, problem: problems.join('; ') });
    else kept.push(row);
  }
  refused.sort((a, b) => a.line - b.line);
  return { rows: kept, bad: refused };
}

/** Writes the rows' links, `concurrency` at a time; a failed write is reported as a bad row. */
export async function importLinks(
  rows: readonly LinkRow[],
  links: Pick<LinkStore, 'putLinks'>,
  options: { concurrency?: number } = {},
): Promise<{ imported: number; failed: BadRow[] }> {
  let next = 0;
  let imported = 0;
  const failed: BadRow[] = [];
  const lane = async () => {
    for (let index = next++; index < rows.length; index = next++) {
      const row = rows[index];
      if (!row) continue;
      try {
        await links.putLinks(row.contactId, row.keys);
        imported++;
      } catch (error) {
        failed.push({ line: row.line, problem: `could not be written (${(error as Error).message})` });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, lane));
  failed.sort((a, b) => a.line - b.line);
  return { imported, failed };
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, file] = argv;
  if (command !== 'import' || !file) {
    process.stderr.write('usage: npm run links -- import <file.csv>\n');
    return 2;
  }
  const config = loadConfig(process.env, ['STATE_TABLE_NAME']);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    // The code (ENOENT, EACCES, EISDIR) says it all; the Error's own text repeats it less clearly.
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    process.stderr.write(`links: cannot read ${file} (${code})\n`);
    return 1;
  }
  const { rows, bad } = parseLinksCsv(text, config.DEFAULT_PHONE_REGION);
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
  const store = createLinkStore({ client: doc, tableName: config.STATE_TABLE_NAME });
  const { imported, failed } = await importLinks(rows, store);
  const problems = [...bad, ...failed].sort((a, b) => a.line - b.line);
  for (const row of problems) process.stdout.write(`line ${row.line}: ${row.problem}\n`);
  process.stdout.write(`imported ${imported} row(s), ${bad.length} bad, ${failed.length} failed to write\n`);
  return problems.length > 0 ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    const message = error instanceof ConfigError ? error.problems.join('\n') : String(error);
    process.stderr.write(`links: ${message}\n`);
    process.exitCode = 1;
  }
}
