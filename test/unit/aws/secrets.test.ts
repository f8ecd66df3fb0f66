import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createSecretCache, parseSecretString } from '../../../lib/aws/secrets.js';
import { ConfigError, DependencyError } from '../../../lib/errors.js';

const sm = mockClient(SecretsManagerClient);
const client = new SecretsManagerClient({ region: 'us-east-1' });

describe('parseSecretString', () => {
  it('reads a plain value and trims a trailing newline', () => {
    expect(parseSecretString('id', 'abc\n')).toEqual({ value: 'abc' });
  });
  it('reads JSON with value and previous', () => {
    expect(parseSecretString('id', '{"value":"new","previous":"old"}')).toEqual({
      value: 'new',
      previous: 'old',
    });
  });
  it('names the secret id, never the value, when empty or malformed', () => {
    expect(() => parseSecretString('my-secret', '  ')).toThrow(/my-secret/);
    expect(() => parseSecretString('my-secret', '{"other":"hunter2"}')).toThrow(ConfigError);
    try {
      parseSecretString('my-secret', '{"other":"hunter2"}');
    } catch (error) {
      expect(String(error)).not.toContain('hunter2');
    }
  });
});

describe('createSecretCache', () => {
  beforeEach(() => sm.reset());

  it('caches per id within the TTL and refetches after it', async () => {
    let clock = 0;
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'k1' });
    const cache = createSecretCache({ client, ttlMs: 1_000, now: () => clock });
    await cache.get('a');
    await cache.get('a');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    clock = 1_001;
    await cache.get('a');
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('shares one in-flight fetch between concurrent callers', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: 'k1' });
    const cache = createSecretCache({ client });
    const values = await Promise.all([cache.get('a'), cache.get('a'), cache.get('a')]);
    expect(values.map((v) => v.value)).toEqual(['k1', 'k1', 'k1']);
    expect(sm.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('refetches on a forced refresh', async () => {
    sm.on(GetSecretValueCommand).resolvesOnce({ SecretString: 'old' }).resolves({ SecretString: 'new' });
    const cache = createSecretCache({ client });
    expect((await cache.get('a')).value).toBe('old');
    expect((await cache.get('a', { forceRefresh: true })).value).toBe('new');
    expect((await cache.get('a')).value).toBe('new');
  });

  it('does not cache a failed fetch', async () => {
    sm.on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('boom'), { name: 'InternalServiceError' }))
      .resolves({ SecretString: 'k1' });
    const cache = createSecretCache({ client });
    await expect(cache.get('a')).rejects.toBeInstanceOf(DependencyError);
    expect((await cache.get('a')).value).toBe('k1');
  });

  it('turns a missing secret into a config error naming the id', async () => {
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('nope'), { name: 'ResourceNotFoundException' }),
    );
    const cache = createSecretCache({ client });
    await expect(cache.get('prod/cleartalk')).rejects.toThrow(/prod\/cleartalk: not found/);
  });
});
