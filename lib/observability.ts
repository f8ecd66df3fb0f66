/**
 * Structured JSON logs and CloudWatch embedded-format metrics, shared by every function.
 * Log ids, field names, outcomes and reason codes; never secrets, API keys or contact values
 * (emails, phones, names).
 */
export const SERVICE_NAME = 'cleartalk-contact-sync';
export const METRICS_NAMESPACE = 'CleartalkContactSync';

/** Extra fields of one log line (ids, field names, counts, reason codes). */
export type LogAttributes = Record<string, unknown>;

/** The structured logger every function uses: one JSON line per entry. */
export interface Logger {
  debug(message: string, ...attributes: LogAttributes[]): void;
  info(message: string, ...attributes: LogAttributes[]): void;
  warn(message: string, ...attributes: LogAttributes[]): void;
  error(message: string, ...attributes: LogAttributes[]): void;
}

/** Test seams for `createLogger`; production uses the defaults. */
export interface LoggerOptions {
  /** Read once for the level, and per entry for `_X_AMZN_TRACE_ID` (set per invocation). */
  readonly env?: Record<string, string | undefined>;
  /** Epoch milliseconds of the entry. */
  readonly now?: () => number;
  /** Receives each complete line, newline included. */
  readonly write?: (line: string) => void;
}

/** Powertools' level numbers, so the same `POWERTOOLS_LOG_LEVEL` values (SILENT too) keep working. */
export const LOG_LEVELS = {
  TRACE: 6,
  DEBUG: 8,
  INFO: 12,
  WARN: 16,
  ERROR: 20,
  CRITICAL: 24,
  SILENT: 28,
} as const;

/** Markers written in place of values JSON cannot hold. */
export const LOG_MARKERS = {
  circular: '[Circular]',
  toJsonFailed: '[toJSON failed]',
  unreadable: '[Unreadable]',
} as const;

// Keys the entry owns: an attribute cannot replace them (Powertools drops these too).
// `function` and `xray_trace_id` are not in the list: attributes may override them, as before.
const RESERVED_KEYS = new Set(['level', 'message', 'timestamp', 'service', 'sampling_rate']);

/** The log threshold from the environment (first set of three variables); unknown values mean INFO. */
export function readLogLevel(env: Record<string, string | undefined>): number {
  const name = (
    env.POWERTOOLS_LOG_LEVEL?.trim() ||
    env.AWS_LAMBDA_LOG_LEVEL?.trim() ||
    env.LOG_LEVEL?.trim() ||
    'INFO'
  ).toUpperCase();
  return Object.hasOwn(LOG_LEVELS, name) ? LOG_LEVELS[name as keyof typeof LOG_LEVELS] : LOG_LEVELS.INFO;
}

/** The `Root=` part of an X-Ray trace header (the whole value when it has no fields). */
export function readTraceId(header: string | undefined): string | undefined {
  const value = header?.trim();
  if (!value) return undefined;
  if (!value.includes('=')) return value;
  for (const field of value.split(';')) {
    if (field.startsWith('Root=')) return field.slice(5);
  }
  return undefined;
}

function writeToStdout(line: string): void {
  // Looked up per call: tests replace `process.stdout.write` after the logger exists.
  process.stdout.write(line);
}

/**
 * Creates the logger of one function: Powertools' line format (`level`, `message`, `timestamp`,
 * `service`, `sampling_rate`, `xray_trace_id`, `function`, then the attributes), written with one
 * `process.stdout.write` per entry. Ours instead of Powertools' because its module and
 * construction cost ~6-9M instructions (~3-5 ms CPU) of every cold start. Never throws.
 */
export function createLogger(functionName: string, options: LoggerOptions = {}): Logger {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const write = options.write ?? writeToStdout;
  const threshold = readLogLevel(env);

  const log = (level: string, rank: number, message: string, attributes: LogAttributes[]) => {
    if (rank < threshold) return;
    try {
      const entry: Record<string, unknown> = {
        level,
        message,
        timestamp: new Date(now()).toISOString(),
        service: SERVICE_NAME,
        sampling_rate: 0,
      };
      const traceId = readTraceId(env._X_AMZN_TRACE_ID);
      if (traceId !== undefined) entry.xray_trace_id = traceId;
      entry.function = functionName;
      for (const attribute of attributes) {
        for (const key of Object.keys(attribute)) {
          if (!RESERVED_KEYS.has(key)) entry[key] = attribute[key];
        }
      }
      write(`${serialize(entry)}\n`);
    } catch {
      // A log call must never break the invocation that makes it; say that attributes were lost.
      try {
        write(
          `${JSON.stringify({ level, message: String(message), service: SERVICE_NAME, function: functionName, log_error: LOG_MARKERS.unreadable })}\n`,
        );
      } catch {
        // Nowhere left to report to.
      }
    }
  };

  return {
    debug: (message, ...attributes) => log('DEBUG', LOG_LEVELS.DEBUG, message, attributes),
    info: (message, ...attributes) => log('INFO', LOG_LEVELS.INFO, message, attributes),
    warn: (message, ...attributes) => log('WARN', LOG_LEVELS.WARN, message, attributes),
    error: (message, ...attributes) => log('ERROR', LOG_LEVELS.ERROR, message, attributes),
  };
}

/** One JSON line; values JSON cannot hold become strings or markers instead of throwing. */
export function serialize(entry: Record<string, unknown>): string {
  try {
    // Fast path: plain data (every call site today) needs one stringify.
    return JSON.stringify(entry, replaceUnserializable);
  } catch {
    // A cycle or a throwing toJSON/getter: copy into plain data with markers, then stringify.
    return JSON.stringify(toPlain(entry, '', []));
  }
}

function replaceUnserializable(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

// Mirrors JSON.stringify (toJSON, then the value) with markers; `ancestors` holds the objects
// on the path from the root, so a repeated but non-circular reference is written out in full.
function toPlain(value: unknown, key: string, ancestors: object[]): unknown {
  let current = value;
  if (
    typeof current === 'object' &&
    current !== null &&
    typeof (current as { toJSON?: unknown }).toJSON === 'function'
  ) {
    try {
      current = (current as { toJSON(key: string): unknown }).toJSON(key);
    } catch {
      return LOG_MARKERS.toJsonFailed;
    }
  }
  current = replaceUnserializable(key, current);
  if (typeof current !== 'object' || current === null) return current;
  if (ancestors.includes(current)) return LOG_MARKERS.circular;
  if (current instanceof Number || current instanceof String || current instanceof Boolean) {
    return current.valueOf();
  }
  ancestors.push(current);
  try {
    if (Array.isArray(current)) return current.map((item, index) => toPlain(item, String(index), ancestors));
    const copy: Record<string, unknown> = {};
    for (const name of Object.keys(current)) {
      let item: unknown;
      try {
        item = (current as Record<string, unknown>)[name];
      } catch {
        copy[name] = LOG_MARKERS.unreadable;
        continue;
      }
      copy[name] = toPlain(item, name, ancestors);
    }
    return copy;
  } finally {
    ancestors.pop();
  }
}

/** The CloudWatch metric units (all of them: EMF accepts only these strings). */
export const MetricUnit = {
  Seconds: 'Seconds',
  Microseconds: 'Microseconds',
  Milliseconds: 'Milliseconds',
  Bytes: 'Bytes',
  Kilobytes: 'Kilobytes',
  Megabytes: 'Megabytes',
  Gigabytes: 'Gigabytes',
  Terabytes: 'Terabytes',
  Bits: 'Bits',
  Kilobits: 'Kilobits',
  Megabits: 'Megabits',
  Gigabits: 'Gigabits',
  Terabits: 'Terabits',
  Percent: 'Percent',
  Count: 'Count',
  BytesPerSecond: 'Bytes/Second',
  KilobytesPerSecond: 'Kilobytes/Second',
  MegabytesPerSecond: 'Megabytes/Second',
  GigabytesPerSecond: 'Gigabytes/Second',
  TerabytesPerSecond: 'Terabytes/Second',
  BitsPerSecond: 'Bits/Second',
  KilobitsPerSecond: 'Kilobits/Second',
  MegabitsPerSecond: 'Megabits/Second',
  GigabitsPerSecond: 'Gigabits/Second',
  TerabitsPerSecond: 'Terabits/Second',
  CountPerSecond: 'Count/Second',
  NoUnit: 'None',
} as const;

/** One CloudWatch metric unit string. */
export type MetricUnit = (typeof MetricUnit)[keyof typeof MetricUnit];

/** Powertools' limits, kept: a flush at 100 stored metrics or 100 values of one metric, 29 dimensions. */
export const METRICS_LIMITS = { metrics: 100, values: 100, dimensions: 29, nameLength: 255 } as const;

/** A metric written at once in its own EMF line, with extra dimensions (e.g. a reason code). */
export interface SingleMetric {
  /** Adds a dimension to the line; empty names or values, and any past the limit, are ignored. */
  addDimension(name: string, value: string): SingleMetric;
  /** Writes the line now, then forgets the dimensions. */
  addMetric(name: string, unit: MetricUnit, value: number): void;
}

/** The EMF metrics of one function: stored per invocation, one line per `publishStoredMetrics`. */
export interface Metrics {
  /** Stores a value; a name added again collects its values in an array. */
  addMetric(name: string, unit: MetricUnit, value: number): void;
  /** Writes the stored metrics as one EMF line (nothing when none are stored) and clears them. */
  publishStoredMetrics(): void;
  /** A metric with its own dimensions, written at once. */
  singleMetric(): SingleMetric;
}

/** Test seams for `createMetrics`; production uses the defaults. */
export interface MetricsOptions {
  /** Read once, at creation, for `POWERTOOLS_METRICS_DISABLED` / `POWERTOOLS_DEV`. */
  readonly env?: Record<string, string | undefined>;
  /** Epoch milliseconds of each line's `_aws.Timestamp`. */
  readonly now?: () => number;
  /** Receives each complete EMF line, newline included. */
  readonly write?: (line: string) => void;
}

// Plain arrays, not Sets: a module-level `new Set` would keep this code in the bundles that only log.
const TRUE_VALUES: readonly string[] = ['1', 'y', 'yes', 't', 'true', 'on'];
const FALSE_VALUES: readonly string[] = ['0', 'n', 'no', 'f', 'false', 'off'];

function readFlag(value: string | undefined): boolean | undefined {
  const text = value?.trim().toLowerCase();
  if (text === undefined) return undefined;
  if (TRUE_VALUES.includes(text)) return true;
  if (FALSE_VALUES.includes(text)) return false;
  return undefined;
}

/**
 * Whether metrics are off, as Powertools decided: `POWERTOOLS_METRICS_DISABLED` when set to a
 * boolean (true/1/yes/on, false/0/no/off), otherwise on when `POWERTOOLS_DEV` is true.
 */
export function readMetricsDisabled(env: Record<string, string | undefined>): boolean {
  return readFlag(env.POWERTOOLS_METRICS_DISABLED) ?? readFlag(env.POWERTOOLS_DEV) ?? false;
}

interface StoredMetric {
  readonly unit: MetricUnit;
  readonly values: number[];
}

// `_aws` as a dimension or metric name would replace the EMF metadata and void the whole line.
const EMF_KEY = '_aws';

function isDimensionText(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0;
}

// CloudWatch cannot take a NaN or infinite value (JSON would write null): such a value is left out.
function isValidMetric(units: ReadonlySet<string>, name: unknown, unit: unknown, value: unknown): boolean {
  return (
    typeof name === 'string' &&
    name.length >= 1 &&
    name !== EMF_KEY &&
    name.length <= METRICS_LIMITS.nameLength &&
    typeof unit === 'string' &&
    units.has(unit) &&
    typeof value === 'number' &&
    Number.isFinite(value)
  );
}

// One EMF object in Powertools' key order: `_aws` (Timestamp, then Namespace, Dimensions, Metrics
// with Name and Unit), the dimension values, then each metric's value (a number, or an array when
// it was added more than once). `undefined` when no metric is left to write.
function formatEmfLine(
  timestamp: number,
  dimensions: Readonly<Record<string, string>>,
  stored: ReadonlyMap<string, StoredMetric>,
): string | undefined {
  const definitions: Array<{ Name: string; Unit: MetricUnit }> = [];
  const values: Record<string, number | number[]> = {};
  for (const [name, metric] of stored) {
    // A metric named like a dimension would replace its value (Powertools threw here).
    if (Object.hasOwn(dimensions, name)) continue;
    definitions.push({ Name: name, Unit: metric.unit });
    values[name] = metric.values.length === 1 ? (metric.values[0] as number) : metric.values;
  }
  if (definitions.length === 0) return undefined;
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        { Namespace: METRICS_NAMESPACE, Dimensions: [Object.keys(dimensions)], Metrics: definitions },
      ],
    },
    ...dimensions,
    ...values,
  });
}

/**
 * Creates the EMF metrics of one function: namespace `CleartalkContactSync`, dimensions `service`
 * and `function`, the lines Powertools Metrics wrote, byte for byte, with one
 * `process.stdout.write` each. Ours instead of Powertools' because its module and construction
 * cost ~6.3M instructions (~4 ms CPU) of the worker's cold start. Never throws: an invalid metric
 * (empty or over-long name, unknown unit, NaN or infinite value, a unit other than the one the
 * name was stored with, a name used by a dimension or `_aws`) is left out instead.
 */
export function createMetrics(functionName: string, options: MetricsOptions = {}): Metrics {
  // Built here, not at module level, so the bundles that only log leave it out.
  const units: ReadonlySet<string> = new Set<string>(Object.values(MetricUnit));
  const now = options.now ?? Date.now;
  const write = options.write ?? writeToStdout;
  const disabled = readMetricsDisabled(options.env ?? process.env);
  const defaults: Readonly<Record<string, string>> = { service: SERVICE_NAME, function: functionName };

  const publish = (stored: Map<string, StoredMetric>, dimensions: Readonly<Record<string, string>>) => {
    if (stored.size === 0) return;
    try {
      if (disabled) return;
      const line = formatEmfLine(now(), dimensions, stored);
      if (line !== undefined) write(`${line}\n`);
    } catch {
      // Metrics must never break the invocation that records them.
    } finally {
      stored.clear();
    }
  };

  // Powertools' order: validate, flush a full store, then add (a value to an existing name only
  // with that name's unit), then flush a metric holding the maximum number of values.
  const store = (
    stored: Map<string, StoredMetric>,
    dimensions: Readonly<Record<string, string>>,
    name: string,
    unit: MetricUnit,
    value: number,
  ): boolean => {
    if (!isValidMetric(units, name, unit, value)) return false;
    if (stored.size >= METRICS_LIMITS.metrics) publish(stored, dimensions);
    const current = stored.get(name);
    if (current === undefined) {
      stored.set(name, { unit, values: [value] });
      return true;
    }
    if (current.unit !== unit) return false;
    current.values.push(value);
    if (current.values.length >= METRICS_LIMITS.values) publish(stored, dimensions);
    return true;
  };

  const stored = new Map<string, StoredMetric>();
  return {
    addMetric: (name, unit, value) => {
      store(stored, defaults, name, unit, value);
    },
    publishStoredMetrics: () => publish(stored, defaults),
    singleMetric: () => {
      let dimensions: Record<string, string> = { ...defaults };
      const own = new Map<string, StoredMetric>();
      const single: SingleMetric = {
        addDimension: (name, value) => {
          if (!isDimensionText(name) || !isDimensionText(value) || name === EMF_KEY) return single;
          const count = Object.keys(dimensions).length + (Object.hasOwn(dimensions, name) ? 0 : 1);
          if (count <= METRICS_LIMITS.dimensions) dimensions[name] = value;
          return single;
        },
        addMetric: (name, unit, value) => {
          if (!store(own, dimensions, name, unit, value)) return;
          publish(own, dimensions);
          dimensions = { ...defaults };
        },
      };
      return single;
    },
  };
}
