import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, type Message, SQSClient } from '@aws-sdk/client-sqs';
import { drainQueue as drainAll } from '../../../tools/local/queue-tools.js';

/** Real AWS resources on the run's moto_server for the webhook integration tests (unique names). */

export const sqs = new SQSClient({});
const dynamo = new DynamoDBClient({});
const secretsManager = new SecretsManagerClient({});

/** A FIFO queue WITHOUT content-based deduplication: only our MessageDeduplicationId collapses repeats. */
export async function createFifoQueue(name: string): Promise<string> {
  const out = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}-${randomUUID().slice(0, 8)}.fifo`,
      Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' },
    }),
  );
  return out.QueueUrl ?? '';
}

/** A state table with the key design of lib/aws/state-keys.ts. */
export async function createStateTable(): Promise<string> {
  const name = `state-${randomUUID().slice(0, 8)}`;
  await dynamo.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
  return name;
}

export async function createSecret(secretString: string): Promise<string> {
  const name = `webhook/${randomUUID()}`;
  await secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: secretString }));
  return name;
}

/**
 * Every message currently on a queue, deleted as it is read: a FIFO group with a message in flight
 * would hold back later messages of the same contact.
 */
export function drainQueue(queueUrl: string): Promise<Message[]> {
  return drainAll(sqs, queueUrl);
}
