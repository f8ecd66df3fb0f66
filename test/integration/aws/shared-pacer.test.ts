import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSharedPacer } from '../../../lib/aws/shared-pacer.js';
import { realSleep } from '../../../lib/backfill/pacing.js';
import { DependencyError } from '../../../lib/errors.js';
import { provisionStack } from '../../../tools/provision.js';
import { createFakeClock } from '../../helpers/fake-clock.js';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
let tableName = '';

beforeAll(async () => {
  ({ STATE_TABLE_NAME: tableName } = await provisionStack({ prefix: `pacer-${randomUUID().slice(0, 8)}` }));
});

const pacerOn = (name: string, clock: { now: () => number; sleep: (ms: number) => Promise<void> }) =>
  createSharedPacer({ client, tableName, name, intervalMs: 600, now: clock.now, sleep: clock.sleep });

describe('shared request pacer on DynamoDB (moto)', () => {
  it('makes a second container wait for the first one’s interval, and a late one push the schedule back', async () => {
    const name = `typeform#${randomUUID()}`;
    const clock = createFakeClock(1_000_000);
    let late = 0;
    // Two containers (two pacers, each with its own in-container state) on one clock.
    const a = pacerOn(name, clock);
    const b = pacerOn(name, { now: clock.now, sleep: (ms) => clock.sleep(ms + late) });
    const went: number[] = [];
    const go = async (pacer: typeof a) => {
      await pacer.acquire();
      went.push(clock.now());
    };
    await go(a); // idle account: at once
    await go(b); // waits for a's interval
    late = 80;
    await go(b); // its timer fires 80 ms late
    await go(a); // so a waits 600 ms from when b really went
    expect(went).toEqual([1_000_000, 1_000_600, 1_001_280, 1_001_880]);
  });

  it('spaces concurrent callers of two containers by the interval, in real time', async () => {
    const name = `typeform#${randomUUID()}`;
    const intervalMs = 150;
    const real = { now: Date.now, sleep: realSleep };
    const pacers = [0, 1].map(() =>
      createSharedPacer({ client, tableName, name, intervalMs, now: real.now, sleep: real.sleep }),
    );
    const started = Date.now();
    // Four requests from each container at once: eight slots need at least seven intervals.
    await Promise.all(pacers.flatMap((pacer) => [0, 1, 2, 3].map(() => pacer.acquire())));
    expect(Date.now() - started).toBeGreaterThanOrEqual(7 * intervalMs);
  });

  it('goes at once past a next slot no claim could have set (over a minute ahead of its clock)', async () => {
    const name = `typeform#${randomUUID()}`;
    const future = createFakeClock(10_000_000);
    await pacerOn(name, future).acquire();
    const now = createFakeClock(10_000_000 - 3_600_000);
    await pacerOn(name, now).acquire();
    expect(now.sleeps).toEqual([]);
    // ... and the schedule it leaves is its own: the next caller waits one interval.
    await pacerOn(name, now).acquire();
    expect(now.sleeps).toEqual([600]);
  });

  it('fails with a retryable DependencyError when the table is missing', async () => {
    const pacer = createSharedPacer({
      client,
      tableName: `missing-${randomUUID()}`,
      name: 'typeform#x',
      intervalMs: 600,
      ...createFakeClock(),
    });
    const failure = await pacer.acquire().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DependencyError);
    expect((failure as DependencyError).retryable).toBe(true);
  });
});
