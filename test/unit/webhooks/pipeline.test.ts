import { describe, expect, it } from 'vitest';
import { ConfigError, DependencyError, SignatureError, ValidationError } from '../../../lib/errors.js';
import { answerError, createRefreshGate, parseJsonObject } from '../../../lib/webhooks/pipeline.js';
import { prepare } from '../../../lib/webhooks/runtime.js';
import { createLogCapture } from '../../helpers/webhook-deps.js';

describe('createRefreshGate', () => {
  it('opens at most once per interval', () => {
    let now = 0;
    const allow = createRefreshGate({ intervalMs: 60_000, now: () => now });
    expect(allow()).toBe(true);
    expect(allow()).toBe(false);
    now = 59_999;
    expect(allow()).toBe(false);
    now = 60_000;
    expect(allow()).toBe(true);
  });
});

describe('answerError', () => {
  const cases: Array<[unknown, number, string]> = [
    [new SignatureError('mismatch'), 401, 'invalid-signature'],
    [
      new ValidationError('bad', { code: 'invalid-payload', issues: ['a: required'] }),
      400,
      'invalid-payload',
    ],
    [new ConfigError(['X: required']), 503, 'misconfigured'],
    [new DependencyError('sqs', 'down'), 503, 'unavailable'],
    [new TypeError('bug'), 500, 'internal'],
  ];
  it.each(cases)('maps %s to its status and code', (error, status, code) => {
    const response = answerError(error, createLogCapture(), {}, 'Typeform-Signature');
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body).error).toBe(code);
    expect(response.statusCode).not.toBe(404);
  });

  it('never answers 404 or 410, which make Typeform disable the webhook', () => {
    for (const [error] of cases) {
      expect([404, 410]).not.toContain(answerError(error, createLogCapture(), {}, 'h').statusCode);
    }
  });
});

describe('parseJsonObject', () => {
  it('accepts an object and refuses scalars, arrays, null and garbage', () => {
    expect(parseJsonObject(Buffer.from('{"a":1}'))).toEqual({ a: 1 });
    for (const text of ['1', '"s"', 'null', '[]', '', '{']) {
      expect(() => parseJsonObject(Buffer.from(text))).toThrow(ValidationError);
    }
  });
});

describe('prepare', () => {
  it('turns a configuration error into a logged, reportable problem instead of a crash', () => {
    const logger = createLogCapture();
    const setup = prepare(() => {
      throw new ConfigError(['PATCH_QUEUE_URL: required']);
    }, logger);
    expect(setup.ok).toBe(false);
    expect(logger.lines[0]?.extra.problems).toEqual(['PATCH_QUEUE_URL: required']);
  });

  it('lets a programming error crash the cold start', () => {
    expect(() =>
      prepare(() => {
        throw new TypeError('bug');
      }, createLogCapture()),
    ).toThrow(TypeError);
  });
});
