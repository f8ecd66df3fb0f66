import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCreationClaims } from '../../../lib/aws/creation-claims.js';
import { provisionStack } from '../../../tools/provision.js';

// The run's moto_server comes from startMoto (tools/local/moto.ts), which serialises DynamoDB
// requests because moto itself does not make a conditional write atomic. Against plain
// moto_server this test found two or three winners on 39 of its 200 items.
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
let tableName = '';

beforeAll(async () => {
  ({ STATE_TABLE_NAME: tableName } = await provisionStack({ prefix: `atomic-${randomUUID().slice(0, 8)}` }));
});

describe('conditional writes on the local moto are atomic', () => {
  it('lets exactly one of four concurrent creation claims on a key win, every time', async () => {
    const claims = createCreationClaims({ client, tableName });
    const untilMs = Date.now() + 60_000;
    const winners: number[] = [];
    for (let item = 0; item < 200; item++) {
      const email = `atomic-${item}-${randomUUID()}@example.com`;
      const results = await Promise.all(
        [0, 1, 2, 3].map((n) => claims.claimCreation({ email }, { owner: `job:${n}`, untilMs })),
      );
      winners.push(results.filter((result) => result.claimed).length);
    }
    expect(winners.filter((count) => count !== 1)).toEqual([]);
  });
});
