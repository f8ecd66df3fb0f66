import { randomUUID } from 'node:crypto';
import {
  DescribeContinuousBackupsCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/errors.js';
import { DEFAULT_TEMPLATE_PATH, loadStackTemplate, provisionStack } from '../../tools/provision.js';
import { runTool } from './tools/run-tool.js';

const sqs = new SQSClient({});
const dynamodb = new DynamoDBClient({});

function prefix(): string {
  return `prov-${randomUUID().slice(0, 8)}`;
}

describe('provisionStack', () => {
  it('creates the FIFO queue with a redrive to the FIFO dead-letter queue, and the state table', async () => {
    const name = prefix();
    const stack = await provisionStack({ prefix: name });

    expect(stack.PATCH_QUEUE_URL).toMatch(new RegExp(`${name}-patches\\.fifo$`));
    expect(stack.DEAD_LETTER_QUEUE_URL).toMatch(new RegExp(`${name}-patches-dlq\\.fifo$`));
    expect(stack.STATE_TABLE_NAME).toBe(`${name}-state`);

    const queue = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: stack.PATCH_QUEUE_URL, AttributeNames: ['All'] }),
    );
    const dlq = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: stack.DEAD_LETTER_QUEUE_URL, AttributeNames: ['All'] }),
    );
    expect(queue.Attributes?.FifoQueue).toBe('true');
    expect(queue.Attributes?.ContentBasedDeduplication).toBe('false');
    expect(queue.Attributes?.VisibilityTimeout).toBe('360');
    expect(dlq.Attributes?.FifoQueue).toBe('true');
    expect(JSON.parse(queue.Attributes?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: dlq.Attributes?.QueueArn,
      maxReceiveCount: 6,
    });

    const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: stack.STATE_TABLE_NAME }));
    expect(ttl.TimeToLiveDescription).toMatchObject({
      AttributeName: 'expiresAt',
      TimeToLiveStatus: 'ENABLED',
    });
    const backups = await dynamodb.send(
      new DescribeContinuousBackupsCommand({ TableName: stack.STATE_TABLE_NAME }),
    );
    expect(
      backups.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus,
    ).toBe('ENABLED');
  });

  it('runs again with the same prefix, returns the same stack and applies changed settings', async () => {
    const name = prefix();
    const first = await provisionStack({ prefix: name });
    const second = await provisionStack({
      prefix: name,
      visibilityTimeoutSeconds: 45,
      redriveMaxReceiveCount: 3,
    });

    expect(second).toEqual(first);
    const queue = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: second.PATCH_QUEUE_URL, AttributeNames: ['All'] }),
    );
    expect(queue.Attributes?.VisibilityTimeout).toBe('45');
    expect(JSON.parse(queue.Attributes?.RedrivePolicy ?? '{}').maxReceiveCount).toBe(3);
  });

  it('rejects a prefix that cannot name a queue', async () => {
    await expect(provisionStack({ prefix: 'has space' })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('loadStackTemplate', () => {
  it('reads infra/resources.yml with a plain YAML parser and substitutes the variables', () => {
    const template = loadStackTemplate(DEFAULT_TEMPLATE_PATH, {
      'self:custom.prefix': 'p',
      'self:custom.patchQueueVisibilityTimeoutSeconds': 360,
      'self:custom.redriveMaxReceiveCount': 6,
    });
    expect(Object.keys(template.Resources).sort()).toEqual(['DeadLetterQueue', 'PatchQueue', 'StateTable']);
    expect(template.Resources.PatchQueue?.Properties).toMatchObject({
      QueueName: 'p-patches.fifo',
      VisibilityTimeout: 360,
      RedrivePolicy: {
        maxReceiveCount: 6,
        deadLetterTargetArn: { 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] },
      },
    });
  });

  it('names every variable it was not given', () => {
    try {
      loadStackTemplate(DEFAULT_TEMPLATE_PATH, { 'self:custom.prefix': 'p' });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems.join('\n')).toMatch(
        /patchQueueVisibilityTimeoutSeconds[\s\S]*redrive/,
      );
    }
  });
});

describe('npm run provision (the command line)', () => {
  it('prints the three names as one JSON object on its last line, and can run again', async () => {
    const name = prefix();
    for (const args of [['--prefix', name], [`--prefix=${name}`]]) {
      const run = await runTool('provision', args);
      expect(run.code).toBe(0);
      const last = run.stdout.trim().split('\n').at(-1) ?? '';
      expect(JSON.parse(last)).toEqual({
        PATCH_QUEUE_URL: expect.stringMatching(new RegExp(`${name}-patches\\.fifo$`)),
        DEAD_LETTER_QUEUE_URL: expect.stringMatching(new RegExp(`${name}-patches-dlq\\.fifo$`)),
        STATE_TABLE_NAME: `${name}-state`,
      });
    }
  });

  it('prints its usage on --help and exits 0, creating nothing', async () => {
    const run = await runTool('provision', ['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^usage: npm run provision -- --prefix <name>/);
    expect(run.stderr).toBe('');
  });

  it('refuses a prefix with "=" in it instead of cutting it short, exit 1', async () => {
    const run = await runTool('provision', ['--prefix=a=b']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/--prefix: 1 to 60 letters, digits/);
    expect(run.stdout).toBe('');
  });
});
