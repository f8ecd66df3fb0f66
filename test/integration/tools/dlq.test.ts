import { describe, expect, it } from 'vitest';
import { createLinkStore } from '../../../lib/aws/links.js';
import { createStateStore } from '../../../lib/aws/state-store.js';
import { createClearTalkClient } from '../../../lib/cleartalk/client.js';
import {
  createRedrivePreview,
  deleteDeadLetter,
  listDeadLetters,
  redriveDeadLetters,
} from '../../../tools/dlq.js';
import { buildJob, readDeadLetters, useWorkerHarness } from '../../helpers/worker-harness.js';

const setup = useWorkerHarness();

describe('npm run dlq (moto + sandbox)', () => {
  it('lists dead letters with their reasons and leaves them on the queue', async () => {
    const h = await setup();
    await h.send(buildJob({ contactId: '777' }), buildJob({ contactId: '778' }));
    await h.drain();
    const letters = await listDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL, { waitTimeSeconds: 0 });
    expect(letters.map((l) => [l.reason, l.status]).sort()).toEqual([
      ['contact-not-found', 404],
      ['contact-not-found', 404],
    ]);
    expect(letters[0]?.jobId).toMatch(/^test:/);
    expect(await listDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL, { waitTimeSeconds: 0 })).toHaveLength(
      2,
    );
  });

  it('deletes one dead letter by message id and leaves the others', async () => {
    const h = await setup();
    await h.send(buildJob({ contactId: '777' }));
    // A body that is no PatchJob: never redriven, so only delete clears it.
    await h.sendRaw('{"not":"a job"}', 'x');
    await h.drain();
    const letters = await listDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL, { waitTimeSeconds: 0 });
    const invalid = letters.find((l) => l.reason === 'invalid-job');
    expect(letters).toHaveLength(2);
    expect(await deleteDeadLetter(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL, invalid?.messageId ?? '')).toBe(true);
    expect(
      await deleteDeadLetter(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL, 'no-such-id', { waitTimeSeconds: 0 }),
    ).toBe(false);
    const left = await listDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL, { waitTimeSeconds: 0 });
    expect(left.map((l) => l.reason)).toEqual(['contact-not-found']);
  });

  it('prints the field-level diff on --dry-run, values only when asked, and changes nothing', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1, firstName: 'Ada', lastName: 'Byron' }]);
    await h.send(buildJob({ contactId: '1', patch: { tag: 'vip' }, occurredAt: '2026-11-26T12:00:00Z' }));
    await h.drain();
    // A job dead-lettered earlier (say by an operator's mistake) that is now partly stale.
    await h.sendRaw('{}', 'x');
    await h.drain();
    const job = buildJob({
      contactId: '1',
      patch: { firstName: 'Ada', lastName: 'King', tag: 'old', customField: { plan: 'pro' } },
      occurredAt: '2026-11-26T10:00:00Z',
    });
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    await h.sqs.send(
      new SendMessageCommand({
        QueueUrl: h.stack.DEAD_LETTER_QUEUE_URL,
        MessageBody: JSON.stringify(job),
        MessageGroupId: '1',
        MessageDeduplicationId: 'manual-1',
        MessageAttributes: { errorReason: { DataType: 'String', StringValue: 'rejected' } },
      }),
    );
    const clearTalk = createClearTalkClient({
      baseUrl: h.sandbox.url,
      getApiKey: async () => h.sandbox.apiKey,
    });
    const deps = {
      clearTalk,
      state: createStateStore({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME }),
      links: createLinkStore({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME }),
    };
    // A dry run over the 'rejected' letters, printing into `lines`.
    const redriveDryRun = (preview: ReturnType<typeof createRedrivePreview>, lines: string[]) =>
      redriveDeadLetters({
        sqs: h.sqs,
        deadLetterQueueUrl: h.stack.DEAD_LETTER_QUEUE_URL,
        queueUrl: h.stack.PATCH_QUEUE_URL,
        waitTimeSeconds: 0,
        reason: 'rejected',
        dryRun: true,
        preview,
        print: (line) => lines.push(line),
      });
    const lines: string[] = [];
    const report = await redriveDryRun(createRedrivePreview(deps), lines);
    expect(report).toEqual({ redriven: 1, invalid: 0, skipped: 1 });
    expect(lines.slice(1)).toEqual([
      '    contact 1',
      '    - tag (stale, not sent)',
      '    = firstName (already so)',
      '    ~ lastName',
      '    + customField.plan',
    ]);
    expect(lines.join('\n')).not.toContain('King');

    const withValues: string[] = [];
    await redriveDryRun(createRedrivePreview({ ...deps, showValues: true }), withValues);
    expect(withValues).toContain('    ~ lastName: "Byron" -> "King"');
    expect(await readDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL)).toHaveLength(2);
  });
});
