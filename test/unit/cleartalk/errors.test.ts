import { describe, expect, it } from 'vitest';
import {
  ClearTalkAuthError,
  ClearTalkError,
  ClearTalkInvalidResponseError,
  ClearTalkPermanentError,
  ClearTalkRetryableError,
  InvalidContactIdError,
} from '../../../lib/cleartalk/errors.js';
import { SyncError } from '../../../lib/errors.js';

describe('ClearTalk error tree', () => {
  it('classifies each error as retryable or not, with a stable code', () => {
    const cases: Array<[ClearTalkError, string, boolean]> = [
      [new ClearTalkRetryableError('x', { status: 503 }), 'retryable', true],
      [new ClearTalkRetryableError('x', { code: 'retries-exhausted' }), 'retries-exhausted', true],
      [new ClearTalkRetryableError('x', { code: 'deadline-exceeded' }), 'deadline-exceeded', true],
      [
        new ClearTalkPermanentError('x', { code: 'contact-not-found', status: 404 }),
        'contact-not-found',
        false,
      ],
      [new ClearTalkPermanentError('x', { code: 'rejected', status: 422 }), 'rejected', false],
      [new ClearTalkAuthError('x', { status: 401 }), 'auth', true],
      [new ClearTalkInvalidResponseError('x', { status: 200 }), 'invalid-response', false],
      [new InvalidContactIdError('x'), 'invalid-contact-id', false],
    ];
    for (const [error, code, retryable] of cases) {
      expect(error).toBeInstanceOf(ClearTalkError);
      expect(error).toBeInstanceOf(SyncError);
      expect([error.name, error.code, error.retryable]).toEqual([error.constructor.name, code, retryable]);
    }
  });

  it('carries the status only when there was one', () => {
    expect(new ClearTalkPermanentError('x', { code: 'rejected', status: 409 }).status).toBe(409);
    const transport = new ClearTalkRetryableError('x');
    expect(transport.status).toBeUndefined();
    expect(Object.hasOwn(transport, 'status')).toBe(false);
  });

  it('keeps its cause', () => {
    const cause = new Error('socket hang up');
    expect(new ClearTalkRetryableError('x', { cause }).cause).toBe(cause);
  });
});
