import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createLogger,
  LOG_LEVELS,
  LOG_MARKERS,
  type LoggerOptions,
  readLogLevel,
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
