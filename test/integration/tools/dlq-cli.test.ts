import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createLinkStore } from '../../../lib/aws/links.js';
import type { PatchJob } from '../../../lib/jobs/patch-job.js';
import { queueDepth } from '../../../tools/local/queue-tools.js';
import {
  buildJob,
  readDeadLetters,
  useWorkerHarness,
  type WorkerHarness,
} from '../../helpers/worker-harness.js';
import { linesOf, runTool } from './run-tool.js';

const setup = useWorkerHarness();

/** The contract variables of the harness's stack, as an operator exports them. */
function envOf(h: WorkerHarness): Record<string, string> {
  return {
    ...h.stack,
    CLEARTALK_BASE_URL: h.sandbox.url,
    CLEARTALK_API_KEY_SECRET_ID: h.secretId,
  };
}

function depth(h: WorkerHarness, queueUrl: string): Promise<number> {
  return queueDepth(h.sqs, queueUrl);
}

/**
 * Two dead letters made by the worker: a job for a contact ClearTalk does not have (404) and a
 * job matched by an email nobody linked yet. Returns the jobs and every contact value in them.
 */
async function deadLetterTwoJobs(h: WorkerHarness) {
  const email = `ada-${randomUUID().slice(0, 8)}@example.com`;
  const notFound = buildJob({ contactId: '777', patch: { firstName: 'Grace', email: 'grace@example.com' } });
  const { contactId: _, ...unresolved } = buildJob({
    match: { email },
    patch: { lastName: 'Lovelace', phone: '+15550001111' },
  });
  await h.send(notFound, unresolved as PatchJob);
  await h.drain();
  return {
    notFound,
    unresolved: unresolved as PatchJob,
    email,
    values: ['Grace', 'grace@example.com', email, 'Lovelace', '+15550001111', '5550001111'],
  };
}

function expectNoValues(output: string, values: readonly string[]): void {
  for (const value of values) expect(output).not.toContain(value);
}

// Each run is a tsx process (~1-2 s on a busy machine) and list/show long-poll 1 s at the end.
describe('npm run dlq (spawned, moto + sandbox)', { timeout: 60_000 }, () => {
  it('exits 2 with the usage or the problem on stderr for bad usage', async () => {
    const [none, unknown, option, reason] = await Promise.all([
      runTool('dlq', []),
      runTool('dlq', ['purge']),
      runTool('dlq', ['list', '--bogus']),
      // Without the value, `--reason` must not fall back to redriving every reason.
      runTool('dlq', ['redrive', '--reason']),
    ]);
    for (const run of [none, unknown, option, reason]) {
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain('usage: npm run dlq -- list | show <messageId>');
    }
    expect(option.stderr).toMatch(/^dlq: unknown option --bogus$/m);
    expect(reason.stderr).toMatch(/^dlq: --reason needs a dead-letter reason code$/m);
  });

  it('names every missing required variable and exits 1', async () => {
    const run = await runTool('dlq', ['redrive', '--dry-run']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    for (const name of [
      'DEAD_LETTER_QUEUE_URL',
      'PATCH_QUEUE_URL',
      'STATE_TABLE_NAME',
      'CLEARTALK_API_KEY_SECRET_ID',
    ]) {
      expect(run.stderr).toContain(`${name}: required`);
    }
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it('lists and shows dead letters, leaves them on the queue and hides values unless asked', async () => {
    const h = await setup();
    const env = envOf(h);
    const empty = await runTool('dlq', ['list'], env);
    // stderr may hold the AWS SDK's Node-version warning, so only the tool's own lines are checked.
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('0 dead letter(s)\n');
    expect(empty.stderr).not.toContain('dlq:');

    const { notFound, unresolved, email, values } = await deadLetterTwoJobs(h);
    const list = await runTool('dlq', ['list'], env);
    expect(list.code).toBe(0);
    const lines = linesOf(list.stdout);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('2 dead letter(s)');
    const byJob = (jobId: string) => lines.find((line) => line.split('  ')[5] === jobId)?.split('  ') ?? [];
    const notFoundLine = byJob(notFound.jobId);
    const unresolvedLine = byJob(unresolved.jobId);
    expect(notFoundLine.slice(2, 6)).toEqual(['contact-not-found', '404', 'typeform', notFound.jobId]);
    expect(unresolvedLine.slice(2, 6)).toEqual(['unresolved-contact', '-', 'typeform', unresolved.jobId]);
    expect(notFoundLine[1]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expectNoValues(list.stdout, values);
    expect(await depth(h, h.stack.DEAD_LETTER_QUEUE_URL)).toBe(2);

    // The unresolved job's message group is its email: `show` must hide that too.
    const id = unresolvedLine[0] ?? '';
    const show = await runTool('dlq', ['show', id], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`"messageId": "${id}"`);
    expect(show.stdout).toContain('"reason": "unresolved-contact"');
    expect(show.stdout).toContain(`"jobId": "${unresolved.jobId}"`);
    expect(show.stdout).toContain(`"groupId": "[hidden, ${email.length} chars]"`);
    expect(show.stdout).toContain('"lastName": "[hidden, 8 chars]"');
    expect(show.stdout).toContain(`"email": "[hidden, ${email.length} chars]"`);
    expect(show.stdout).toContain('"occurredAt": "2026-11-26T10:00:00Z"');
    expect(show.stdout).toContain('--show-values prints them');
    expectNoValues(show.stdout, values);

    const shown = await runTool('dlq', ['show', id, '--show-values'], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain(`"groupId": "${email}"`);
    expect(shown.stdout).toContain('"lastName": "Lovelace"');
    expect(shown.stdout).toContain('"phone": "+15550001111"');

    const unknown = await runTool('dlq', ['show', 'no-such-message'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toBe('no dead letter no-such-message (list shows the ones reachable now)\n');
    expect(await depth(h, h.stack.DEAD_LETTER_QUEUE_URL)).toBe(2);
  });

  it('previews a redrive by reason without moving anything, then redrives only that reason', async () => {
    const h = await setup();
    const env = envOf(h);
    h.sandbox.seed([{ id: 1, firstName: 'Ada', lastName: 'Byron' }]);
    const { notFound, unresolved, email, values } = await deadLetterTwoJobs(h);
    // The operator links the email to contact 1, then checks what a redrive would do.
    await createLinkStore({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME }).putLinks('1', { email });

    const dry = await runTool('dlq', ['redrive', '--dry-run', '--reason', 'unresolved-contact'], env);
    expect(dry.code).toBe(0);
    const [label, ...rest] = linesOf(dry.stdout);
    expect(label).toMatch(new RegExp(`^\\S+ unresolved-contact ${unresolved.jobId}: would redrive$`));
    expect(rest).toEqual([
      '    contact 1 (through the link table)',
      '    ~ lastName',
      '    + phone',
      'would redrive 1, invalid 0, skipped (other reason) 1',
    ]);
    expectNoValues(dry.stdout, [...values, 'Byron']);
    expect(await depth(h, h.stack.DEAD_LETTER_QUEUE_URL)).toBe(2);
    expect(await depth(h, h.stack.PATCH_QUEUE_URL)).toBe(0);

    const real = await runTool('dlq', ['redrive', '--reason=unresolved-contact'], env);
    expect(real.code).toBe(0);
    expect(linesOf(real.stdout)).toEqual([
      label?.replace(/would redrive$/, 'redriven'),
      'redriven 1, invalid 0, skipped (other reason) 1',
    ]);
    expectNoValues(real.stdout, values);
    expect(await depth(h, h.stack.PATCH_QUEUE_URL)).toBe(1);
    const left = await readDeadLetters(h.sqs, h.stack.DEAD_LETTER_QUEUE_URL);
    expect(left.map((l) => [l.attributes.errorReason, JSON.parse(l.body).jobId])).toEqual([
      ['contact-not-found', notFound.jobId],
    ]);

    // The worker applies the redriven job through the new link.
    await h.drain();
    expect(h.sandbox.contacts().find((c) => c.id === 1)).toMatchObject({
      firstName: 'Ada',
      lastName: 'Lovelace',
      phone: '+15550001111',
    });
    expect(await depth(h, h.stack.DEAD_LETTER_QUEUE_URL)).toBe(1);
  });
});
