import {
  ContinuousBackupsUnavailableException,
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ResourceNotFoundException,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { provisionStack } from '../../../tools/provision.js';

// Real DynamoDB (unlike moto) refuses to turn point-in-time recovery on for a table it has only
// just created: UpdateContinuousBackups fails with ContinuousBackupsUnavailableException until
// the table's continuous backups are ready, seconds later.

const sqs = mockClient(SQSClient);
const dynamodb = mockClient(DynamoDBClient);

beforeEach(() => {
  sqs.reset();
  dynamodb.reset();
  sqs.on(GetQueueUrlCommand).rejects(new QueueDoesNotExist({ message: 'no queue', $metadata: {} }));
  sqs
    .on(CreateQueueCommand)
    .callsFake((input: { QueueName: string }) => ({ QueueUrl: `https://sqs.local/1/${input.QueueName}` }));
  sqs.on(GetQueueAttributesCommand).callsFake((input: { QueueUrl: string }) => ({
    Attributes: { QueueArn: `arn:aws:sqs:us-east-1:1:${input.QueueUrl.split('/').at(-1)}` },
  }));
  dynamodb
    .on(DescribeTableCommand)
    .rejectsOnce(new ResourceNotFoundException({ message: 'no table', $metadata: {} }))
    .resolves({ Table: { TableStatus: 'ACTIVE', TableArn: 'arn:aws:dynamodb:us-east-1:1:table/p-state' } });
  dynamodb.on(CreateTableCommand).resolves({});
  dynamodb
    .on(DescribeTimeToLiveCommand)
    .resolves({ TimeToLiveDescription: { TimeToLiveStatus: 'DISABLED' } });
  dynamodb.on(UpdateTimeToLiveCommand).resolves({});
  dynamodb.on(DescribeContinuousBackupsCommand).resolves({
    ContinuousBackupsDescription: {
      ContinuousBackupsStatus: 'ENABLED',
      PointInTimeRecoveryDescription: { PointInTimeRecoveryStatus: 'DISABLED' },
    },
  });
});

describe('provisionStack against DynamoDB proper', () => {
  it('waits for a new table to accept point-in-time recovery instead of failing', async () => {
    const unavailable = () =>
      new ContinuousBackupsUnavailableException({
        message: 'Backups are being enabled for the table: p-state. Please retry later',
        $metadata: {},
      });
    dynamodb
      .on(UpdateContinuousBackupsCommand)
      .rejectsOnce(unavailable())
      .rejectsOnce(unavailable())
      .resolves({});

    const waits: number[] = [];
    const stack = await provisionStack({
      prefix: 'p',
      sqs: new SQSClient({}),
      dynamodb: new DynamoDBClient({}),
      sleep: async (ms) => {
        waits.push(ms);
      },
    });

    expect(stack.STATE_TABLE_NAME).toBe('p-state');
    expect(dynamodb.commandCalls(UpdateContinuousBackupsCommand)).toHaveLength(3);
    // One poll for the new table to be ACTIVE, then two backed-off retries.
    expect(waits).toEqual([50, 200, 400]);
  });

  it('still reports any other failure to enable it', async () => {
    dynamodb.on(UpdateContinuousBackupsCommand).rejects(new Error('AccessDeniedException'));
    await expect(
      provisionStack({
        prefix: 'p',
        sqs: new SQSClient({}),
        dynamodb: new DynamoDBClient({}),
        sleep: async () => {},
      }),
    ).rejects.toThrow('AccessDeniedException');
    expect(dynamodb.commandCalls(UpdateContinuousBackupsCommand)).toHaveLength(1);
  });
});
