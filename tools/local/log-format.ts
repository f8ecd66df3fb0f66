/**
 * Turns the functions' structured log lines (JSON, Powertools' line format) into short terminal lines for
 * `npm start`: one line per PatchJob outcome, one per webhook answer, and no metric blobs.
 * The functions log ids, field names and reason codes only, so nothing here can print a contact
 * value or a secret that was not already in the log.
 */

const HIDDEN_KEYS = new Set([
  'level',
  'message',
  'timestamp',
  'service',
  'function',
  'sampling_rate',
  'xray_trace_id',
  'cold_start',
  'function_arn',
  'function_memory_size',
  'function_name',
  'function_request_id',
]);

function renderValue(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Formats one output line; `undefined` drops it (CloudWatch embedded-metric blobs). Lines that
 * are not JSON pass through unchanged.
 */
export function formatLogLine(line: string, now: Date = new Date()): string | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(trimmed) as Record<string, unknown>;
  } catch {
    return line;
  }
  if ('_aws' in entry) return undefined;
  const time = (typeof entry.timestamp === 'string' ? new Date(entry.timestamp) : now)
    .toISOString()
    .slice(11, 19);
  const source = String(entry.function ?? entry.service ?? '-').padEnd(19);
  const level = String(entry.level ?? 'INFO').padEnd(5);
  if (entry.message === 'patch job') {
    // One line per job outcome, the most useful facts first.
    const { outcome, jobId, contactId, ...rest } = entry;
    const details = Object.entries(rest)
      .filter(([key]) => !HIDDEN_KEYS.has(key))
      .map(([key, value]) => `${key}=${renderValue(value)}`)
      .join(' ');
    return `${time} ${source} ${level} job ${renderValue(outcome ?? '?')} ${renderValue(jobId ?? '-')} contact=${renderValue(contactId ?? '-')}${details ? ` ${details}` : ''}`;
  }
  const details = Object.entries(entry)
    .filter(([key]) => !HIDDEN_KEYS.has(key))
    .map(([key, value]) => `${key}=${renderValue(value)}`)
    .join(' ');
  return `${time} ${source} ${level} ${String(entry.message ?? '')}${details ? ` ${details}` : ''}`;
}

/**
 * Routes everything written to a stream through `formatLogLine`, line by line.
 * Returns a function that restores the stream.
 */
export function formatStreamLines(stream: NodeJS.WriteStream): () => void {
  const original = stream.write.bind(stream);
  let pending = '';
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    const out = lines
      .map((line) => formatLogLine(line))
      .filter((line): line is string => line !== undefined)
      .map((line) => `${line}\n`)
      .join('');
    const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    if (out) return original(out, callback);
    callback?.();
    return true;
  }) as typeof stream.write;
  return () => {
    stream.write = original as typeof stream.write;
  };
}
