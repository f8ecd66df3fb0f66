import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const variables = require('../../../infra/variables.cjs') as {
  secretNames(options: {
    resolveVariable: (name: string) => Promise<unknown>;
  }): Promise<Record<string, string>>;
  toSecretName(name: string, raw: unknown): string;
};

describe('infra/variables.cjs secret parameters', () => {
  it('passes secret names through, one per parameter', async () => {
    const names = await variables.secretNames({
      resolveVariable: async (name) => `app/prod/${name.replace('param:', '')}`,
    });
    expect(names).toEqual({
      cleartalkApiKeySecret: 'app/prod/cleartalkApiKeySecret',
      typeformWebhookSecret: 'app/prod/typeformWebhookSecret',
      shopifyWebhookSecret: 'app/prod/shopifyWebhookSecret',
      typeformApiTokenSecret: 'app/prod/typeformApiTokenSecret',
      shopifyAdminTokenSecret: 'app/prod/shopifyAdminTokenSecret',
    });
  });

  it('refuses an ARN, which IAM (secret:<name>-??????) would never match', async () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:app/prod/key-AbCdEf';
    expect(() => variables.toSecretName('cleartalkApiKeySecret', arn)).toThrow(
      /param cleartalkApiKeySecret must be a Secrets Manager secret name, not an ARN/,
    );
    await expect(
      variables.secretNames({
        resolveVariable: async (name) => (name === 'param:shopifyWebhookSecret' ? arn : 'ok/name'),
      }),
    ).rejects.toThrow(/param shopifyWebhookSecret must be .* not an ARN/);
  });

  it('refuses an empty name or characters Secrets Manager does not allow', () => {
    expect(() => variables.toSecretName('typeformWebhookSecret', '')).toThrow(/secret name \(1-512/);
    expect(() => variables.toSecretName('typeformWebhookSecret', 'has space')).toThrow(/secret name \(1-512/);
  });
});
