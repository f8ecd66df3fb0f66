/**
 * The one error tree of the product. Every error carries a stable `code` (used as the
 * dead-letter `errorReason` and in logs), says whether trying again later can succeed, and
 * keeps its `cause`. Messages say what to fix and never contain secrets, API keys or
 * contact values (emails, phones, names): only ids and field names.
 */
export class SyncError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(message: string, options: { code: string; retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    // Every class here names itself in a string (`override name = '…'`): the deployed bundles are
    // minified without keepNames, so a class's own name reads "r" there, in the logs and in
    // Lambda's `errorType`. `new.target.name` is only the fallback for a subclass that sets none.
    this.name = new.target === SyncError ? 'SyncError' : new.target.name;
    this.code = options.code;
    this.retryable = options.retryable;
  }
}

/** A missing or invalid setting (environment, secret, mapping file). Never retryable. */
export class ConfigError extends SyncError {
  override name = 'ConfigError';
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options: { cause?: unknown } = {}) {
    super(`Invalid configuration: ${problems.join('; ')}`, { code: 'config', retryable: false, ...options });
    this.problems = problems;
  }
}

/** Input that does not have the expected shape (a webhook body, a PatchJob). Never retryable. */
export class ValidationError extends SyncError {
  override name = 'ValidationError';
  readonly issues: readonly string[];

  constructor(message: string, options: { code?: string; issues?: readonly string[]; cause?: unknown } = {}) {
    super(message, { code: options.code ?? 'invalid-input', retryable: false, cause: options.cause });
    this.issues = options.issues ?? [];
  }
}

/** A webhook whose signature is missing or does not match. */
export class SignatureError extends SyncError {
  override name = 'SignatureError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'invalid-signature', retryable: false, ...options });
  }
}

/** A conditional write lost a race (DynamoDB ConditionalCheckFailed): re-read and try again. */
export class ConflictError extends SyncError {
  override name = 'ConflictError';
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { code: 'conflict', retryable: true, ...options });
  }
}

/** A dependency (SQS, DynamoDB, Secrets Manager) could not be reached or failed transiently. */
export class DependencyError extends SyncError {
  override name = 'DependencyError';
  readonly dependency: string;

  constructor(dependency: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, {
      code: 'dependency-unavailable',
      retryable: options.retryable ?? true,
      cause: options.cause,
    });
    this.dependency = dependency;
  }
}

/**
 * Formats zod issues as `path: message` lines, without the offending values (which may be
 * contact data).
 */
export function describeIssues(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
): string[] {
  return issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}
