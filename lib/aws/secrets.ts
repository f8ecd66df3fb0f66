import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigError, DependencyError } from '../errors.js';

/** A secret as the product uses it: the current value and, during a rotation, the previous one. */
export interface SecretValue {
  readonly value: string;
  readonly previous?: string;
}

export interface SecretReader {
  /**
   * Returns the secret, from cache when fresh.
   * @throws {ConfigError} when the secret is missing or empty (names the id, never the value)
   * @throws {DependencyError} when Secrets Manager cannot be reached (retryable)
   */
  get(secretId: string, options?: { forceRefresh?: boolean }): Promise<SecretValue>;
}

export interface SecretCacheOptions {
  readonly client: Pick<SecretsManagerClient, 'send'>;
  /** @default 300_000 (5 minutes) */
  readonly ttlMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * Parses a `SecretString`: the plain value, or JSON `{"value": …, "previous"?: …}` (DESIGN.md).
 * Values are trimmed of surrounding whitespace, since a secret pasted with a trailing newline
 * would otherwise never match a signature.
 * @throws {ConfigError} when no usable value is present
 */
export function parseSecretString(secretId: string, secretString: string | undefined): SecretValue {
  const text = secretString?.trim() ?? '';
  if (text === '') throw new ConfigError([`secret ${secretId}: SecretString is missing or empty`]);
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON after all: a plain value that happens to start with a brace.
      return { value: text };
    }
    const record = parsed as { value?: unknown; previous?: unknown };
    const value = typeof record.value === 'string' ? record.value.trim() : '';
    if (value === '') {
      throw new ConfigError([`secret ${secretId}: JSON SecretString needs a non-empty string "value"`]);
    }
    const previous = typeof record.previous === 'string' ? record.previous.trim() : '';
    return previous === '' ? { value } : { value, previous };
  }
  return { value: text };
}

/**
 * A per-container cache of Secrets Manager values: one entry per secret id with a TTL, one
 * in-flight fetch shared by concurrent callers, forced refresh on demand (after a 401), and
 * failures never cached.
 */
export function createSecretCache(options: SecretCacheOptions): SecretReader {
  const ttlMs = options.ttlMs ?? 300_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { value: SecretValue; expiresAt: number }>();
  const inFlight = new Map<string, Promise<SecretValue>>();

  async function fetchSecret(secretId: string): Promise<SecretValue> {
    let secretString: string | undefined;
    try {
      const out = await options.client.send(new GetSecretValueCommand({ SecretId: secretId }));
      secretString = out.SecretString;
    } catch (error) {
      const name = (error as { name?: string }).name ?? 'Error';
      if (name === 'ResourceNotFoundException') {
        throw new ConfigError([`secret ${secretId}: not found in Secrets Manager`], { cause: error });
      }
      if (name === 'AccessDeniedException' || name === 'DecryptionFailure') {
        throw new ConfigError([`secret ${secretId}: ${name}; check the function's IAM policy and KMS key`], {
          cause: error,
        });
      }
      throw new DependencyError('secrets-manager', `could not read secret ${secretId} (${name})`, {
        cause: error,
      });
    }
    return parseSecretString(secretId, secretString);
  }

  return {
    get(secretId, { forceRefresh = false } = {}) {
      const cached = cache.get(secretId);
      if (!forceRefresh && cached && cached.expiresAt > now()) return Promise.resolve(cached.value);
      const pending = inFlight.get(secretId);
      if (pending) return pending;
      const fetching = fetchSecret(secretId)
        .then((value) => {
          cache.set(secretId, { value, expiresAt: now() + ttlMs });
          return value;
        })
        .finally(() => inFlight.delete(secretId));
      inFlight.set(secretId, fetching);
      return fetching;
    },
  };
}
