import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

/**
 * `serverless package` for tests and benchmarks: runs it (offline: it needs no AWS account) unless
 * `.serverless/` is newer than every input, and reads the zips it produced without unzip(1).
 */

export const PROJECT_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const PACKAGE_DIR = join(PROJECT_ROOT, '.serverless');
export const TEMPLATE_FILE = 'cloudformation-template-update-stack.json';

/** Everything that changes what `serverless package` produces. */
const PACKAGE_INPUTS = [
  'serverless.yml',
  'infra',
  'handlers',
  'lib',
  'mappings',
  'tools/build',
  'package-lock.json',
];

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** True when `.serverless/` exists and is newer than every packaging input. */
export function isPackageFresh(root = PROJECT_ROOT): boolean {
  const template = join(root, '.serverless', TEMPLATE_FILE);
  if (!existsSync(template)) return false;
  const built = statSync(template).mtimeMs;
  return PACKAGE_INPUTS.every((input) => newestMtime(join(root, input)) < built);
}

/**
 * Runs `serverless package` in the project unless its output is fresh.
 * @throws {Error} with the command's output when packaging fails
 */
export async function ensurePackaged(
  options: { root?: string; force?: boolean; log?: (line: string) => void } = {},
): Promise<{ dir: string; reused: boolean }> {
  const root = options.root ?? PROJECT_ROOT;
  const dir = join(root, '.serverless');
  if (!options.force && isPackageFresh(root)) return { dir, reused: true };
  options.log?.('running serverless package (offline)…');
  // serverless-esbuild zips whatever is in .esbuild/.build; `invoke local` leaves old builds there.
  rmSync(join(root, '.esbuild'), { recursive: true, force: true });
  const bin = join(root, 'node_modules', '.bin', 'serverless');
  const output = await new Promise<string>((resolvePromise, reject) => {
    const child = spawn(bin, ['package', '--stage', 'dev'], {
      cwd: root,
      // No AWS account is needed to package; make sure none is used by accident.
      env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolvePromise(text) : reject(new Error(`serverless package failed (${code}):\n${text}`)),
    );
  });
  options.log?.(output.trim());
  return { dir, reused: false };
}

/** Reads the generated CloudFormation template. */
export function readTemplate(dir = PACKAGE_DIR): CloudFormationTemplate {
  return JSON.parse(readFileSync(join(dir, TEMPLATE_FILE), 'utf8')) as CloudFormationTemplate;
}

export interface CloudFormationTemplate {
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; Condition?: string; DependsOn?: unknown }
  >;
  Conditions?: Record<string, unknown>;
  Outputs?: Record<string, unknown>;
}

/** One file in a zip archive. */
export interface ZipEntry {
  readonly name: string;
  readonly compressedSize: number;
  readonly size: number;
  readonly method: number;
  readonly localHeaderOffset: number;
}

/** Lists a zip's entries from its central directory. */
export function listZipEntries(zip: Buffer): ZipEntry[] {
  // End of central directory record: signature 0x06054b50, at most 64 KiB of comment after it.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const count = zip.readUInt16LE(eocd + 10);
  let offset = zip.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    entries.push({
      method: zip.readUInt16LE(offset + 10),
      compressedSize: zip.readUInt32LE(offset + 20),
      size: zip.readUInt32LE(offset + 24),
      localHeaderOffset: zip.readUInt32LE(offset + 42),
      name: zip.toString('utf8', offset + 46, offset + 46 + nameLength),
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Extracts one stored or deflated entry. */
export function readZipEntry(zip: Buffer, entry: ZipEntry): Buffer {
  const header = entry.localHeaderOffset;
  const start = header + 30 + zip.readUInt16LE(header + 26) + zip.readUInt16LE(header + 28);
  const data = zip.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) return Buffer.from(data);
  if (entry.method === 8) return inflateRawSync(data);
  throw new Error(`unsupported zip compression method ${entry.method} for ${entry.name}`);
}
