import { describe, expect, it } from 'vitest';
import { createKeyedLock } from '../../../lib/jobs/keyed-lock.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('keyed lock', () => {
  it('runs work for one key one at a time, in order, even after a failure', async () => {
    const lock = createKeyedLock();
    const events: string[] = [];
    let release: () => void = () => {};
    const first = lock.run('7', async () => {
      events.push('first:start');
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      events.push('first:end');
      throw new Error('boom');
    });
    const second = lock.run('7', async () => {
      events.push('second');
      return 2;
    });
    const other = lock.run('8', async () => {
      events.push('other');
      return 3;
    });
    await tick();
    expect(events).toEqual(['first:start', 'other']);
    release();
    await expect(first).rejects.toThrow('boom');
    expect(await second).toBe(2);
    expect(await other).toBe(3);
    expect(events).toEqual(['first:start', 'other', 'first:end', 'second']);
  });
});
