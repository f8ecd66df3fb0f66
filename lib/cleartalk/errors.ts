import { SyncError } from '../errors.js';

/**
 * Errors of the ClearTalk client. Each carries the HTTP status when there was one, a stable
 * `code` (used as the dead-letter `errorReason`) and `retryable`. Messages name the method,
 * the path (which holds only the numeric contact id) and the status: never the API key, the
 * request body or the response body, which may hold contact values.
 */
export class ClearTalkError extends SyncError {
  override name = 'ClearTalkError';
  // `declare`: no class field is emitted, so the property is absent (not undefined) without a status.
  declare readonly status?: number;

  constructor(
    message: string,
    options: { code: string; retryable: boolean; status?: number; cause?: unknown },
  ) {
    super(message, { code: options.code, retryable: options.retryable, cause: options.cause });
    if (options.status !== undefined) this.status = options.status;
  }
}

/** Stable codes of {@link ClearTalkRetryableError}. */
export const RETRYABLE_CODES = {
  /** One attempt failed in a way that can succeed later (the client retries these itself). */
  retryable: 'retryable',
  /** Every allowed attempt failed. */
  retriesExhausted: 'retries-exhausted',
  /** The client stopped because the next wait would cross the caller's deadline. */
  deadlineExceeded: 'deadline-exceeded',
  /** The client did not retry because the caller's circuit breaker is open (`retryGate`). */
  circuitOpen: 'circuit-open',
} as const;
export type RetryableCode = (typeof RETRYABLE_CODES)[keyof typeof RETRYABLE_CODES];

/** ClearTalk could not be reached or answered 408/425/429/5xx: the queue should deliver again later. */
export class ClearTalkRetryableError extends ClearTalkError {
  override name = 'ClearTalkRetryableError';
  constructor(message: string, options: { code?: RetryableCode; status?: number; cause?: unknown } = {}) {
    super(message, { ...options, code: options.code ?? RETRYABLE_CODES.retryable, retryable: true });
  }
}

/** Stable codes of {@link ClearTalkPermanentError}. */
export const PERMANENT_CODES = {
  /** 404: the contact id does not exist. */
  contactNotFound: 'contact-not-found',
  /** 400/409/410/422 and every other status that will not change on a retry. */
  rejected: 'rejected',
} as const;
export type PermanentCode = (typeof PERMANENT_CODES)[keyof typeof PERMANENT_CODES];

/** ClearTalk refused the request for a reason a retry cannot fix (the job belongs in the DLQ). */
export class ClearTalkPermanentError extends ClearTalkError {
  override name = 'ClearTalkPermanentError';
  constructor(message: string, options: { code: PermanentCode; status?: number; cause?: unknown }) {
    super(message, { ...options, retryable: false });
  }
}

/**
 * 401/403 even after fetching the key again. Retryable on purpose: a wrong or revoked key
 * would otherwise dead-letter every job at once; the queue redelivers, and the redrive
 * policy and the alarms catch a key that stays wrong.
 */
export class ClearTalkAuthError extends ClearTalkError {
  override name = 'ClearTalkAuthError';
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, { ...options, code: 'auth', retryable: true });
  }
}

/** A 2xx answer whose body is not a contact (the reference promises the whole contact). */
export class ClearTalkInvalidResponseError extends ClearTalkError {
  override name = 'ClearTalkInvalidResponseError';
  readonly issues: readonly string[];

  constructor(
    message: string,
    options: { status?: number; issues?: readonly string[]; cause?: unknown } = {},
  ) {
    super(message, { ...options, code: 'invalid-response', retryable: false });
    this.issues = options.issues ?? [];
  }
}

/** A contact id that is not a positive integer, refused before any request is made. */
export class InvalidContactIdError extends ClearTalkError {
  override name = 'InvalidContactIdError';
  constructor(message: string) {
    super(message, { code: 'invalid-contact-id', retryable: false });
  }
}

/**
 * The transport failure behind a ClearTalk error, in place of the raw Node error: only the
 * message and the code are kept, never a request object (which holds the headers, so the API
 * key), so a logger that serialises `cause` cannot print the key.
 */
export class ClearTalkTransportError extends Error {
  /** The Node error code, e.g. `ECONNRESET`, `ETIMEDOUT` (also used for the client's own attempt timeout). */
  readonly code: string | undefined;
  /**
   * Whether the request went out on a reused keep-alive socket that failed before any byte of the
   * answer: the mark of a connection the server closed while it sat idle (the request never
   * reached it). A reset in the middle of an answer is not one: the server had the request.
   */
  readonly reusedSocket: boolean;

  constructor(message: string, options: { code: string | undefined; reusedSocket: boolean }) {
    super(message);
    this.name = 'ClearTalkTransportError';
    this.code = options.code;
    this.reusedSocket = options.reusedSocket;
  }
}
