import { describe, expect, it, vi } from 'vitest';
import { createClearTalkClient, isIdempotencyKey } from '../../../lib/cleartalk/client.js';
import { InvalidContactIdError } from '../../../lib/cleartalk/errors.js';
import type { ContactPatch } from '../../../lib/cleartalk/schemas.js';
import { ValidationError } from '../../../lib/errors.js';

// Nothing listens on port 9 (discard) locally: a request that went out would fail with
// ECONNREFUSED, not with the errors asserted here.
function createOfflineClient() {
  const getApiKey = vi.fn(async () => 'k');
  const client = createClearTalkClient({ baseUrl: 'http://127.0.0.1:9', getApiKey, maxAttempts: 1 });
  return { client, getApiKey };
}

describe('createClearTalkClient input checks', () => {
  it('refuses a contact id that is not a positive integer before any request', async () => {
    const { client, getApiKey } = createOfflineClient();
    for (const id of ['abc', '0', '-4', '12/../../admin', '1e3', '']) {
      await expect(
        client.updateContact(id, { firstName: 'A' }, { idempotencyKey: 'j' }),
      ).rejects.toBeInstanceOf(InvalidContactIdError);
      await expect(client.getContact(id)).rejects.toMatchObject({
        code: 'invalid-contact-id',
        retryable: false,
      });
    }
    expect(getApiKey).not.toHaveBeenCalled();
  });

  it('refuses an invalid patch before any request, naming the field but not the value', async () => {
    const { client, getApiKey } = createOfflineClient();
    const bad = { firstName: 'Ada', nickname: 'secret-nick' } as unknown as ContactPatch;
    const error = await client.updateContact('1', bad, { idempotencyKey: 'j' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'invalid-patch', retryable: false });
    expect(String((error as Error).message)).toContain('nickname');
    expect(String((error as Error).message)).not.toContain('secret-nick');
    await expect(client.updateContact('1', {}, { idempotencyKey: 'j' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(client.createContact({} as ContactPatch)).rejects.toBeInstanceOf(ValidationError);
    expect(getApiKey).not.toHaveBeenCalled();
  });

  it('refuses an Idempotency-Key that cannot travel in a header', async () => {
    const { client, getApiKey } = createOfflineClient();
    for (const idempotencyKey of ['', 'line\nbreak', 'ünïcode', 'x'.repeat(1025)]) {
      await expect(client.updateContact('1', { tag: 't' }, { idempotencyKey })).rejects.toMatchObject({
        code: 'invalid-idempotency-key',
      });
    }
    expect(getApiKey).not.toHaveBeenCalled();
  });
});

describe('isIdempotencyKey', () => {
  it('takes 1-1024 printable ASCII characters that do not start with a space', () => {
    for (const key of ['a', 'job:1#0123456789abcdef', 'a b', '~'.repeat(1024)]) {
      expect(isIdempotencyKey(key)).toBe(true);
    }
    for (const key of ['', ' a', 'a\tb', 'a\x7f', 'é', 'a'.repeat(1025)]) {
      expect(isIdempotencyKey(key)).toBe(false);
    }
  });
});
