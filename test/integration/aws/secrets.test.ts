import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { describe, expect, it } from 'vitest';
import { createSecretCache } from '../../../lib/aws/secrets.js';
import { ConfigError } from '../../../lib/errors.js';

// Talks to the run's moto_server through AWS_ENDPOINT_URL (test/helpers/setup-env.ts).
const client = new SecretsManagerClient({});

describe('secrets against moto', () => {
  it('reads a JSON secret and sees a rotation after a forced refresh', async () => {
    const id = `test/${randomUUID()}`;
    await client.send(new CreateSecretCommand({ Name: id, SecretString: '{"value":"v1"}' }));
    const cache = createSecretCache({ client });
    expect(await cache.get(id)).toEqual({ value: 'v1' });
    await client.send(
      new PutSecretValueCommand({ SecretId: id, SecretString: '{"value":"v2","previous":"v1"}' }),
    );
    expect(await cache.get(id)).toEqual({ value: 'v1' });
    expect(await cache.get(id, { forceRefresh: true })).toEqual({ value: 'v2', previous: 'v1' });
  });

  it('reports a secret that does not exist as a config error', async () => {
    const cache = createSecretCache({ client });
    await expect(cache.get(`missing/${randomUUID()}`)).rejects.toBeInstanceOf(ConfigError);
  });
});
