import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../fixtures/', import.meta.url));

/** A fresh copy of a JSON fixture under test/fixtures (tests may mutate it freely). */
export function loadFixture<T extends object = Record<string, unknown>>(path: string): T {
  return JSON.parse(readFileSync(`${root}${path}`, 'utf8')) as T;
}
