import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createLogger,
  createMetrics,
  LOG_LEVELS,
  LOG_MARKERS,
  type LoggerOptions,
  METRICS_LIMITS,
  type Metrics,
  type MetricsOptions,
  MetricUnit,
  readLogLevel,
  readMetricsDisabled,
  readTraceId,
  SERVICE_NAME,
  serialize,
} from '../../lib/observability.js';

const AT = Date.parse('2026-11-27T06:45:12.345Z');
const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

function capture(
  functionName: string,
  env: Record<string, string | undefined> = {},
  extra: LoggerOptions = {},
) {
  const lines: string[] = [];
  const logger = createLogger(functionName, {
    env,
    now: () => AT,
    write: (line) => lines.push(line),
    ...extra,
  });
  return { logger, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe('createLogger: line format', () => {
  // Printed by @aws-lambda-powertools/logger 2.36.0 (`new Logger({ serviceName: SERVICE_NAME,
  // persistentKeys: { function } })`, the previous createLogger) with the clock fixed at AT, on
  // 2026-11-27. Dashboards and Logs Insights queries read these lines.
  const POWERTOOLS_LINES = [
    '{"level":"INFO","message":"patch job","timestamp":"2026-11-27T06:45:12.345Z","service":"cleartalk-contact-sync","sampling_rate":0,"xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793","function":"apply-patches","messageId":"m-1","jobId":"j-1","contactId":"42","outcome":"applied","sent":["email","customField.plan"],"latencyMs":12}',
    '{"level":"WARN","message":"delivery rejected","timestamp":"2026-11-27T06:45:12.345Z","service":"cleartalk-contact-sync","sampling_rate":0,"xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793","function":"typeform-webhook","deliveryId":"d-1","code":"invalid-payload","issues":[{"path":"form_response.answers","code":"invalid_type"}]}',
    '{"level":"ERROR","message":"configuration problem","timestamp":"2026-11-27T06:45:12.345Z","service":"cleartalk-contact-sync","sampling_rate":0,"function":"apply-patches","problems":["PATCH_QUEUE_URL: required"]}',
  ];

  it('writes byte for byte the lines the Powertools logger wrote', () => {
    const env: Record<string, string | undefined> = { _X_AMZN_TRACE_ID: TRACE };
    const { logger, lines } = capture('apply-patches', env);
    logger.info('patch job', {
      messageId: 'm-1',
      jobId: 'j-1',
      contactId: '42',
      outcome: 'applied',
      sent: ['email', 'customField.plan'],
      latencyMs: 12,
    });
    logger.warn(
      'delivery rejected',
      {
        deliveryId: 'd-1',
        code: 'invalid-payload',
        issues: [{ path: 'form_response.answers', code: 'invalid_type' }],
      },
      { function: 'typeform-webhook' },
    );
    delete env._X_AMZN_TRACE_ID;
    logger.error('configuration problem', { problems: ['PATCH_QUEUE_URL: required'] });
    expect(lines).toEqual(POWERTOOLS_LINES.map((line) => `${line}\n`));
  });

  it('orders the keys level, message, timestamp, service, sampling_rate, xray_trace_id, function, attributes', () => {
    const { logger, lines } = capture('backfill', { _X_AMZN_TRACE_ID: TRACE });
    logger.info('backfill finished', { zeta: 1, alpha: 2 });
    expect(Object.keys(JSON.parse(lines[0] ?? '{}'))).toEqual([
      'level',
      'message',
      'timestamp',
      'service',
      'sampling_rate',
      'xray_trace_id',
      'function',
      'zeta',
      'alpha',
    ]);
  });

  it('writes the timestamp as ISO UTC with milliseconds from the injected clock', () => {
    const { logger, parsed } = capture('backfill', {}, { now: () => Date.UTC(2027, 0, 2, 3, 4, 5, 6) });
    logger.info('x');
    expect(parsed()[0]).toMatchObject({ timestamp: '2027-01-02T03:04:05.006Z', service: SERVICE_NAME });
  });

  it('writes exactly one newline-terminated line per call, even for multi-line messages', () => {
    const { logger, lines } = capture('backfill');
    logger.info('first\nsecond', { note: 'a\nb' });
    logger.warn('third');
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toContain('\n');
    }
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ message: 'first\nsecond', note: 'a\nb' });
  });

  it('writes to process.stdout with one write per entry by default', () => {
    const writes: unknown[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      writes.push(chunk);
      return true;
    });
    try {
      const logger = createLogger('shopify-webhook', { env: {} });
      logger.info('delivery handled', { deliveryId: 'd-9' });
      logger.error('unexpected failure');
    } finally {
      spy.mockRestore();
    }
    expect(writes).toHaveLength(2);
    expect(JSON.parse(String(writes[0]))).toMatchObject({
      level: 'INFO',
      message: 'delivery handled',
      function: 'shopify-webhook',
      deliveryId: 'd-9',
    });
    expect(JSON.parse(String(writes[1]))).toMatchObject({ level: 'ERROR', message: 'unexpected failure' });
  });
});

describe('createLogger: levels', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  const ALL = ['DEBUG', 'INFO', 'WARN', 'ERROR'];
  const logAll = (env: Record<string, string | undefined>) => {
    const { logger, parsed } = capture('f', env);
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    return parsed().map((entry) => entry.level);
  };

  it('writes each level in upper case', () => {
    expect(logAll({ POWERTOOLS_LOG_LEVEL: 'DEBUG' })).toEqual(ALL);
  });

  it('defaults to INFO when no variable is set', () => {
    expect(logAll({})).toEqual(['INFO', 'WARN', 'ERROR']);
  });

  it.each([
    ['POWERTOOLS_LOG_LEVEL', 'warn', ['WARN', 'ERROR']],
    ['AWS_LAMBDA_LOG_LEVEL', 'ERROR', ['ERROR']],
    ['LOG_LEVEL', 'Debug', ALL],
    ['POWERTOOLS_LOG_LEVEL', 'SILENT', []],
    ['POWERTOOLS_LOG_LEVEL', 'critical', []],
    ['POWERTOOLS_LOG_LEVEL', 'trace', ALL],
  ])('takes the threshold from %s=%s (case-insensitive)', (name, value, expected) => {
    expect(logAll({ [name]: value })).toEqual(expected);
  });

  it('prefers POWERTOOLS_LOG_LEVEL, then AWS_LAMBDA_LOG_LEVEL, then LOG_LEVEL', () => {
    expect(
      logAll({ POWERTOOLS_LOG_LEVEL: 'ERROR', AWS_LAMBDA_LOG_LEVEL: 'DEBUG', LOG_LEVEL: 'DEBUG' }),
    ).toEqual(['ERROR']);
    expect(logAll({ AWS_LAMBDA_LOG_LEVEL: 'WARN', LOG_LEVEL: 'DEBUG' })).toEqual(['WARN', 'ERROR']);
    expect(logAll({ POWERTOOLS_LOG_LEVEL: ' ', LOG_LEVEL: 'ERROR' })).toEqual(['ERROR']);
  });

  it('falls back to INFO for an unknown value', () => {
    expect(logAll({ POWERTOOLS_LOG_LEVEL: 'verbose', LOG_LEVEL: 'ERROR' })).toEqual([
      'INFO',
      'WARN',
      'ERROR',
    ]);
    expect(readLogLevel({ LOG_LEVEL: 'toString' })).toBe(LOG_LEVELS.INFO);
  });

  it('reads the level once, at creation', () => {
    const env: Record<string, string | undefined> = { POWERTOOLS_LOG_LEVEL: 'ERROR' };
    const { logger, lines } = capture('f', env);
    env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    logger.info('still below the threshold read at creation');
    expect(lines).toHaveLength(0);
  });

  it('reads process.env by default', () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'SILENT');
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      createLogger('f').error('not written');
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('createLogger: attributes', () => {
  it('merges several attribute objects in order, later keys winning', () => {
    const { logger, parsed } = capture('f');
    logger.info('m', { a: 1, b: { x: 1 } }, { b: { y: 2 }, c: 3 });
    expect(parsed()[0]).toMatchObject({ a: 1, b: { y: 2 }, c: 3 });
  });

  it('lets an attribute override function, in its place', () => {
    const { logger, lines } = capture('apply-patches');
    logger.info('m', { function: 'other', z: 1 });
    const entry = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(entry.function).toBe('other');
    expect(Object.keys(entry)).toEqual([
      'level',
      'message',
      'timestamp',
      'service',
      'sampling_rate',
      'function',
      'z',
    ]);
  });

  it('keeps level, message, timestamp, service and sampling_rate from the entry, as Powertools did', () => {
    const { logger, parsed } = capture('f');
    logger.warn('real', {
      level: 'DEBUG',
      message: 'fake',
      timestamp: 'then',
      service: 'other',
      sampling_rate: 1,
    });
    expect(parsed()[0]).toEqual({
      level: 'WARN',
      message: 'real',
      timestamp: '2026-11-27T06:45:12.345Z',
      service: SERVICE_NAME,
      sampling_rate: 0,
      function: 'f',
    });
  });

  it('leaves out undefined attribute values, as JSON.stringify does', () => {
    const { logger, parsed } = capture('f');
    logger.info('m', { errorStatus: undefined, jobId: 'j' });
    expect(parsed()[0]).not.toHaveProperty('errorStatus');
    expect(parsed()[0]).toHaveProperty('jobId', 'j');
  });
});

describe('createLogger: X-Ray trace id', () => {
  it('writes the Root part of _X_AMZN_TRACE_ID, read per entry', () => {
    const env: Record<string, string | undefined> = {};
    const { logger, parsed } = capture('f', env);
    logger.info('before');
    env._X_AMZN_TRACE_ID = TRACE;
    logger.info('during');
    env._X_AMZN_TRACE_ID = 'Root=1-aaaa-bbbb;Sampled=0';
    logger.info('next invocation');
    const [before, during, next] = parsed();
    expect(before).not.toHaveProperty('xray_trace_id');
    expect(during).toHaveProperty('xray_trace_id', '1-5759e988-bd862e3fe1be46a994272793');
    expect(next).toHaveProperty('xray_trace_id', '1-aaaa-bbbb');
  });

  it.each([
    [undefined, undefined],
    ['', undefined],
    ['1-plain-id', '1-plain-id'],
    ['Parent=53995c3f42cd8ad8;Root=1-later;Sampled=1', '1-later'],
    ['Parent=53995c3f42cd8ad8;Sampled=1', undefined],
  ])('reads %j as %j', (header, expected) => {
    expect(readTraceId(header)).toBe(expected);
  });
});

describe('createLogger: safe serialisation', () => {
  it('writes a circular reference as [Circular] and a repeated one in full', () => {
    const { logger, parsed } = capture('f');
    const shared = { id: 's' };
    const node: Record<string, unknown> = { id: 'n', shared, again: shared };
    node.self = node;
    const list: unknown[] = ['x'];
    list.push(list);
    logger.info('m', { node, list });
    expect(parsed()[0]).toMatchObject({
      node: { id: 'n', shared: { id: 's' }, again: { id: 's' }, self: LOG_MARKERS.circular },
      list: ['x', LOG_MARKERS.circular],
    });
  });

  it('writes a BigInt as a string', () => {
    const { logger, parsed } = capture('f');
    logger.info('m', { count: 12345678901234567890n, nested: [1n] });
    expect(parsed()[0]).toMatchObject({ count: '12345678901234567890', nested: ['1'] });
  });

  it('writes an Error as its name and message only', () => {
    const { logger, lines } = capture('f');
    const error = Object.assign(new TypeError('bad input'), { secret: 'sk_live_123' });
    logger.error('m', { error, nested: { cause: new RangeError('too far') } });
    const entry = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(entry.error).toEqual({ name: 'TypeError', message: 'bad input' });
    expect(entry.nested).toEqual({ cause: { name: 'RangeError', message: 'too far' } });
    expect(lines[0]).not.toContain('sk_live_123');
    expect(lines[0]).not.toContain('at ');
  });

  it('writes a marker for a toJSON that throws and keeps the other attributes', () => {
    const { logger, parsed } = capture('f');
    const bad = {
      toJSON() {
        throw new Error('no');
      },
    };
    logger.warn('m', { bad, when: new Date(AT), ok: 1 });
    expect(parsed()[0]).toMatchObject({
      level: 'WARN',
      bad: LOG_MARKERS.toJsonFailed,
      when: '2026-11-27T06:45:12.345Z',
      ok: 1,
    });
  });

  it('writes a marker for a getter that throws', () => {
    const { logger, parsed } = capture('f');
    const odd = Object.defineProperty({ a: 1 }, 'b', {
      enumerable: true,
      get() {
        throw new Error('no');
      },
    });
    logger.info('m', { odd });
    expect(parsed()[0]).toMatchObject({ odd: { a: 1, b: LOG_MARKERS.unreadable } });
  });

  it('gives the same line on the fallback path as on the fast path for the same plain values', () => {
    const value = {
      a: [1, 'two', null, undefined, () => 3],
      b: { when: new Date(AT), n: Number.NaN, big: 5n, e: new Error('x'), s: new String('boxed') },
      u: undefined,
    };
    const cyclic: Record<string, unknown> = { ...value };
    const fast = serialize({ ...value });
    cyclic.loop = cyclic;
    const slow = serialize(cyclic);
    expect(slow).toBe(`${fast.slice(0, -1)},"loop":"${LOG_MARKERS.circular}"}`);
  });

  it('never throws, and still writes a line, when even the fallback fails', () => {
    const { logger, parsed } = capture('f');
    const hostile = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error('no keys');
        },
      },
    );
    expect(() => logger.error('m', { hostile })).not.toThrow();
    expect(parsed()[0]).toMatchObject({
      level: 'ERROR',
      message: 'm',
      function: 'f',
      log_error: LOG_MARKERS.unreadable,
    });
  });

  it('never throws when the write itself fails', () => {
    const logger = createLogger('f', {
      env: {},
      write: () => {
        throw new Error('EPIPE');
      },
    });
    expect(() => logger.error('m')).not.toThrow();
  });
});

// --- Metrics (EMF) ---------------------------------------------------------------------------

const METRICS_AT = 1_795_767_300_123; // 2026-11-27T08:15:00.123Z

function captureMetrics(functionName = 'apply-patches', extra: MetricsOptions = {}) {
  const lines: string[] = [];
  const metrics = createMetrics(functionName, {
    env: {},
    now: () => METRICS_AT,
    write: (line) => lines.push(line),
    ...extra,
  });
  return { metrics, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

const sha256 = (text: string | undefined) =>
  createHash('sha256')
    .update(text ?? '')
    .digest('hex');

describe('createMetrics: EMF lines', () => {
  // Printed by @aws-lambda-powertools/metrics 2.36.0 (`new Metrics({ namespace: METRICS_NAMESPACE,
  // serviceName: SERVICE_NAME, defaultDimensions: { function } })`, the previous createMetrics) with
  // Date.now fixed at METRICS_AT, on 2026-11-27. CloudWatch extracts the metrics (and the alarms
  // read them) from exactly these lines.
  const POWERTOOLS_LINES = [
    '{"_aws":{"Timestamp":1795767300123,"CloudWatchMetrics":[{"Namespace":"CleartalkContactSync","Dimensions":[["service","function"]],"Metrics":[{"Name":"jobsApplied","Unit":"Count"},{"Name":"fieldsStale","Unit":"Count"},{"Name":"applyLatency","Unit":"Milliseconds"},{"Name":"clearTalkRetries","Unit":"Count"}]}]},"service":"cleartalk-contact-sync","function":"apply-patches","jobsApplied":[1,1],"fieldsStale":2,"applyLatency":[12,7.5],"clearTalkRetries":1}',
    '{"_aws":{"Timestamp":1795767300123,"CloudWatchMetrics":[{"Namespace":"CleartalkContactSync","Dimensions":[["service","function","reason"]],"Metrics":[{"Name":"jobsDeadLettered","Unit":"Count"}]}]},"service":"cleartalk-contact-sync","function":"apply-patches","reason":"invalid-job","jobsDeadLettered":1}',
    '{"_aws":{"Timestamp":1795767300123,"CloudWatchMetrics":[{"Namespace":"CleartalkContactSync","Dimensions":[["service","function"]],"Metrics":[{"Name":"circuitOpen","Unit":"Count"}]}]},"service":"cleartalk-contact-sync","function":"apply-patches","circuitOpen":1}',
    // A single metric's dimension named like a default one replaces its value in place.
    '{"_aws":{"Timestamp":1795767300123,"CloudWatchMetrics":[{"Namespace":"CleartalkContactSync","Dimensions":[["service","function"]],"Metrics":[{"Name":"jobsDeadLettered","Unit":"Count"}]}]},"service":"cleartalk-contact-sync","function":"other","jobsDeadLettered":1}',
  ];

  it('writes byte for byte the lines Powertools Metrics wrote', () => {
    const { metrics, lines } = captureMetrics();
    metrics.addMetric('jobsApplied', MetricUnit.Count, 1);
    metrics.addMetric('fieldsStale', MetricUnit.Count, 2);
    metrics.addMetric('applyLatency', MetricUnit.Milliseconds, 12);
    metrics.addMetric('jobsApplied', MetricUnit.Count, 1);
    metrics.addMetric('applyLatency', MetricUnit.Milliseconds, 7.5);
    metrics.addMetric('clearTalkRetries', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    metrics
      .singleMetric()
      .addDimension('reason', 'invalid-job')
      .addMetric('jobsDeadLettered', MetricUnit.Count, 1);
    metrics.addMetric('circuitOpen', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    metrics
      .singleMetric()
      .addDimension('function', 'other')
      .addMetric('jobsDeadLettered', MetricUnit.Count, 1);
    expect(lines).toEqual(POWERTOOLS_LINES.map((line) => `${line}\n`));
  });

  it('writes a metric added once as a number and one added again as an array, in order', () => {
    const { metrics, parsed } = captureMetrics();
    metrics.addMetric('applyLatency', MetricUnit.Milliseconds, 30);
    metrics.addMetric('jobsSkipped', MetricUnit.Count, 1);
    metrics.addMetric('applyLatency', MetricUnit.Milliseconds, 10);
    metrics.addMetric('applyLatency', MetricUnit.Milliseconds, 20);
    metrics.publishStoredMetrics();
    expect(parsed()[0]).toMatchObject({ applyLatency: [30, 10, 20], jobsSkipped: 1 });
  });

  it('takes the timestamp from the clock when publishing, not when adding', () => {
    let clock = 1_000;
    const { metrics, parsed } = captureMetrics('f', { now: () => clock });
    metrics.addMetric('jobsApplied', MetricUnit.Count, 1);
    clock = 2_000;
    metrics.publishStoredMetrics();
    expect(parsed()[0]).toMatchObject({ _aws: { Timestamp: 2_000 } });
  });

  it('writes nothing when nothing is stored, and clears what it published', () => {
    const { metrics, lines } = captureMetrics();
    metrics.publishStoredMetrics();
    expect(lines).toEqual([]);
    metrics.addMetric('jobsApplied', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    metrics.publishStoredMetrics();
    metrics.addMetric('jobsDuplicate', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[1] ?? '{}')).not.toHaveProperty('jobsApplied');
  });

  it('writes to process.stdout with one write per EMF object by default, and nothing to stderr', () => {
    const writes: unknown[] = [];
    const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
      writes.push(chunk);
      return true;
    });
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const metrics = createMetrics('apply-patches', { env: {} });
      metrics.publishStoredMetrics();
      metrics.addMetric('jobsApplied', MetricUnit.Count, 1);
      metrics.addMetric('jobsApplied', MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
      metrics.singleMetric().addDimension('reason', 'r').addMetric('jobsDeadLettered', MetricUnit.Count, 1);
      expect(err).not.toHaveBeenCalled();
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
    expect(writes).toHaveLength(2);
    expect(String(writes[0]).endsWith('}\n')).toBe(true);
    expect(JSON.parse(String(writes[0]))).toMatchObject({ function: 'apply-patches', jobsApplied: [1, 1] });
    expect(JSON.parse(String(writes[1]))).toMatchObject({ reason: 'r', jobsDeadLettered: 1 });
  });

  it('ignores POWERTOOLS_METRICS_NAMESPACE and POWERTOOLS_SERVICE_NAME, as the explicit names did', () => {
    const { metrics, parsed } = captureMetrics('f', {
      env: { POWERTOOLS_METRICS_NAMESPACE: 'Other', POWERTOOLS_SERVICE_NAME: 'svc' },
    });
    metrics.addMetric('jobsApplied', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    expect(parsed()[0]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: 'CleartalkContactSync' }] },
      service: SERVICE_NAME,
      function: 'f',
    });
  });

  it('offers every CloudWatch unit', () => {
    expect(Object.values(MetricUnit)).toHaveLength(27);
    expect(MetricUnit).toMatchObject({ Count: 'Count', Milliseconds: 'Milliseconds', NoUnit: 'None' });
    expect(MetricUnit.CountPerSecond).toBe('Count/Second');
  });
});

describe('createMetrics: single metric', () => {
  it('writes at once, with its dimension, and leaves the stored metrics alone', () => {
    const { metrics, parsed } = captureMetrics();
    metrics.addMetric('jobsSkipped', MetricUnit.Count, 1);
    metrics.singleMetric().addDimension('reason', 'x').addMetric('jobsDeadLettered', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    const [single, stored] = parsed();
    expect(single).toMatchObject({ reason: 'x', jobsDeadLettered: 1 });
    expect(single).not.toHaveProperty('jobsSkipped');
    expect(stored).toMatchObject({ jobsSkipped: 1 });
    expect(stored).not.toHaveProperty('reason');
    expect(stored).not.toHaveProperty('jobsDeadLettered');
  });

  it('forgets its dimensions after writing, as Powertools did', () => {
    const { metrics, parsed } = captureMetrics();
    const single = metrics.singleMetric().addDimension('reason', 'a');
    single.addMetric('x', MetricUnit.Count, 1);
    single.addMetric('y', MetricUnit.Count, 2);
    const [first, second] = parsed();
    expect(first).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['service', 'function', 'reason']] }] },
    });
    expect(second).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['service', 'function']] }] },
      y: 2,
    });
    expect(second).not.toHaveProperty('reason');
  });

  it('keeps the last value of a dimension added twice', () => {
    const { metrics, parsed } = captureMetrics();
    metrics
      .singleMetric()
      .addDimension('reason', 'a')
      .addDimension('reason', 'b')
      .addMetric('x', MetricUnit.Count, 1);
    expect(parsed()[0]).toMatchObject({ reason: 'b' });
  });

  it.each([
    ['', 'value'],
    ['reason', ''],
    ['reason', '   '],
    [' ', 'value'],
  ])('ignores the dimension %j = %j', (name, value) => {
    const { metrics, parsed } = captureMetrics();
    metrics.singleMetric().addDimension(name, value).addMetric('x', MetricUnit.Count, 1);
    expect(parsed()[0]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Dimensions: [['service', 'function']] }] },
    });
  });

  it('keeps at most 29 dimensions, service and function included', () => {
    const { metrics, parsed } = captureMetrics();
    const single = metrics.singleMetric();
    for (let i = 0; i < 30; i++) single.addDimension(`d${i}`, 'v');
    single.addDimension('d0', 'changed');
    single.addMetric('x', MetricUnit.Count, 1);
    const names = (parsed()[0] as { _aws: { CloudWatchMetrics: Array<{ Dimensions: string[][] }> } })._aws
      .CloudWatchMetrics[0]?.Dimensions[0];
    expect(names).toHaveLength(METRICS_LIMITS.dimensions);
    expect(names?.at(-1)).toBe('d26');
    expect(parsed()[0]).toMatchObject({ d0: 'changed' });
  });
});

describe('createMetrics: limits', () => {
  // Powertools Metrics 2.36.0's flushes at its limits (same calls, clock at METRICS_AT), pinned
  // as the length and SHA-256 of each written chunk (the 100-metric line is 4 KB).
  const pinned = (lines: readonly string[]) => lines.map((line) => [line.length, sha256(line)]);
  const addDistinct = (metrics: Metrics, count: number) => {
    for (let i = 0; i < count; i++) metrics.addMetric(`m${i}`, MetricUnit.Count, i);
  };

  it('flushes before storing more than 100 distinct metrics', () => {
    const { metrics, lines } = captureMetrics();
    addDistinct(metrics, 100);
    expect(lines).toHaveLength(0);
    metrics.addMetric('m100', MetricUnit.Count, 100);
    metrics.publishStoredMetrics();
    expect(pinned(lines)).toEqual([
      [4078, 'fc7c189c17a959e186eaa809b2a5dd304e8f6e17e0688955f6f76c77e26cfaea'],
      [250, '892a0cb7766877f71a093beb9323ab7a9978f3f9300a18a7b50d030812ea87ee'],
    ]);
  });

  it('flushes a full store even before adding a value to a stored metric, as Powertools did', () => {
    const { metrics, lines } = captureMetrics();
    addDistinct(metrics, 100);
    metrics.addMetric('m0', MetricUnit.Count, 5);
    metrics.publishStoredMetrics();
    expect(pinned(lines)).toEqual([
      [4078, 'fc7c189c17a959e186eaa809b2a5dd304e8f6e17e0688955f6f76c77e26cfaea'],
      [244, 'b986616087a74a3c3473c9fb9a7bba7a784ec06aa9e211506e6c0b2254f69493'],
    ]);
  });

  it('flushes when one metric holds 100 values', () => {
    const { metrics, lines, parsed } = captureMetrics();
    for (let i = 0; i < 99; i++) metrics.addMetric('v', MetricUnit.Count, i);
    expect(lines).toHaveLength(0);
    metrics.addMetric('v', MetricUnit.Count, 99);
    expect(lines).toHaveLength(1);
    metrics.addMetric('v', MetricUnit.Count, 100);
    metrics.publishStoredMetrics();
    expect(pinned(lines)).toEqual([
      [532, '38d48dbd7f8da3b7ede2033a6e0f0c9cb9f3b724ec3c7b70550cb58d3e2696c5'],
      [244, '982332eeaeddc9b1c60fcac557084b75c51ff4578b409fe7184206076fde28a0'],
    ]);
    expect(parsed()[1]).toMatchObject({ v: 100 });
  });
});

describe('createMetrics: invalid input', () => {
  it('leaves out NaN and infinite values (Powertools wrote null) and keeps negative and zero ones', () => {
    const { metrics, lines, parsed } = captureMetrics();
    metrics.addMetric('a', MetricUnit.Count, Number.NaN);
    metrics.addMetric('b', MetricUnit.Count, -3);
    metrics.addMetric('c', MetricUnit.Count, Number.POSITIVE_INFINITY);
    metrics.addMetric('d', MetricUnit.Count, 0);
    metrics.addMetric('b', MetricUnit.Count, Number.NEGATIVE_INFINITY);
    metrics.publishStoredMetrics();
    expect(lines[0]).not.toContain('null');
    const entry = parsed()[0] ?? {};
    expect(entry).toMatchObject({ b: -3, d: 0 });
    expect(entry).not.toHaveProperty('a');
    expect(entry).not.toHaveProperty('c');
    expect(entry).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Metrics: [
              { Name: 'b', Unit: 'Count' },
              { Name: 'd', Unit: 'Count' },
            ],
          },
        ],
      },
    });
  });

  it('leaves out, without throwing, what Powertools threw for', () => {
    const { metrics, lines, parsed } = captureMetrics();
    expect(() => {
      metrics.addMetric('', MetricUnit.Count, 1);
      metrics.addMetric('x'.repeat(256), MetricUnit.Count, 1);
      metrics.addMetric('things', 'Things' as never, 1);
      metrics.addMetric('text', MetricUnit.Count, '5' as never);
      metrics.addMetric(7 as never, MetricUnit.Count, 1);
      metrics.addMetric('latency', MetricUnit.Milliseconds, 5);
      metrics.addMetric('latency', MetricUnit.Seconds, 1);
      metrics.addMetric('service', MetricUnit.Count, 1);
      metrics.addMetric('function', MetricUnit.Count, 1);
      metrics.addMetric('_aws', MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
      metrics.singleMetric().addDimension('_aws', 'x').addMetric('kept', MetricUnit.Count, 1);
      metrics.singleMetric().addDimension('reason', 'r').addMetric('reason', MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
    }).not.toThrow();
    expect(lines).toHaveLength(2);
    expect(parsed()[0]).toMatchObject({
      service: SERVICE_NAME,
      function: 'apply-patches',
      latency: 5,
      _aws: {
        Timestamp: METRICS_AT,
        CloudWatchMetrics: [{ Metrics: [{ Name: 'latency', Unit: 'Milliseconds' }] }],
      },
    });
    expect(parsed()[0]).not.toHaveProperty('things');
    expect(parsed()[1]).toMatchObject({
      _aws: { Timestamp: METRICS_AT, CloudWatchMetrics: [{ Dimensions: [['service', 'function']] }] },
      kept: 1,
    });
  });

  it('keeps a name of 255 characters', () => {
    const { metrics, parsed } = captureMetrics();
    metrics.addMetric('x'.repeat(255), MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    expect(parsed()[0]).toHaveProperty('x'.repeat(255), 1);
  });

  it('never throws when the write fails, and still clears the stored metrics', () => {
    const lines: string[] = [];
    let fail = true;
    const metrics = createMetrics('f', {
      env: {},
      write: (line) => {
        if (fail) throw new Error('EPIPE');
        lines.push(line);
      },
    });
    metrics.addMetric('lost', MetricUnit.Count, 1);
    expect(() => metrics.publishStoredMetrics()).not.toThrow();
    expect(() => metrics.singleMetric().addMetric('lost', MetricUnit.Count, 1)).not.toThrow();
    fail = false;
    metrics.addMetric('kept', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('lost');
  });
});

describe('createMetrics: switched off', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.each([
    [{}, false],
    [{ POWERTOOLS_METRICS_DISABLED: 'true' }, true],
    [{ POWERTOOLS_METRICS_DISABLED: ' Yes ' }, true],
    [{ POWERTOOLS_METRICS_DISABLED: '1' }, true],
    [{ POWERTOOLS_METRICS_DISABLED: 'off' }, false],
    [{ POWERTOOLS_DEV: 'true' }, true],
    [{ POWERTOOLS_DEV: 'false' }, false],
    [{ POWERTOOLS_DEV: 'true', POWERTOOLS_METRICS_DISABLED: 'false' }, false],
    [{ POWERTOOLS_DEV: 'true', POWERTOOLS_METRICS_DISABLED: 'maybe' }, true],
    [{ POWERTOOLS_METRICS_DISABLED: 'maybe' }, false],
  ])('reads %j as disabled=%s', (env, disabled) => {
    expect(readMetricsDisabled(env)).toBe(disabled);
    const { metrics, lines } = captureMetrics('f', { env });
    metrics.addMetric('jobsApplied', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
    metrics.singleMetric().addDimension('reason', 'r').addMetric('jobsDeadLettered', MetricUnit.Count, 1);
    expect(lines).toHaveLength(disabled ? 0 : 2);
  });

  it('reads process.env by default, once, at creation', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const metrics = createMetrics('f');
      vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
      metrics.addMetric('jobsApplied', MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
