import { describe, expect, it } from 'vitest';
import { type HttpFetch, sendWithRetry } from '../../../lib/backfill/http.js';
import { DependencyError } from '../../../lib/errors.js';

/** A fetch that answers the given statuses in turn and counts its calls. */
function scripted(statuses: number[]) {
  const calls: string[] = [];
  const fetch: HttpFetch = async (url) => {
    calls.push(url);
    const status = statuses[calls.length - 1] ?? 200;
    return { status, headers: { get: () => null }, text: async () => `{"status":${status}}` };
  };
  return { fetch, calls };
}

const timing = { sleep: async () => {}, now: () => 0, random: () => 0.5, dependency: 'typeform-api' };
const request = {
  url: 'https://api.typeform.com/forms/f/responses?page_size=1000',
  method: 'GET' as const,
  headers: {},
};

describe('sendWithRetry', () => {
  it.each([500, 502, 503, 504, 520, 522, 524, 530, 540])(
    'waits out a %i like every 5xx (issue 5: "429 and 5xx waited out") and returns the answer after it',
    async (status) => {
      const { fetch, calls } = scripted([status, 200]);
      const result = await sendWithRetry(request, { ...timing, fetch });
      expect(result.status).toBe(200);
      expect(calls).toHaveLength(2);
    },
  );

  it('gives up on a 5xx after the attempts with a retryable DependencyError', async () => {
    const { fetch, calls } = scripted([522, 522, 522]);
    const error = await sendWithRetry(request, { ...timing, fetch, maxAttempts: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
    expect((error as DependencyError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/3 attempts \(HTTP 522\)/);
    expect((error as Error).message).not.toMatch(/page_size/);
    expect(calls).toHaveLength(3);
  });

  it('returns other 4xx answers at once for the caller to interpret', async () => {
    for (const status of [400, 401, 403, 404, 422]) {
      const { fetch, calls } = scripted([status, 200]);
      expect((await sendWithRetry(request, { ...timing, fetch })).status).toBe(status);
      expect(calls).toHaveLength(1);
    }
  });
});
