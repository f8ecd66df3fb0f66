import { describe, expect, it } from 'vitest';
import { createLinkStore } from '../../../lib/aws/links.js';
import { buildJob, useWorkerHarness } from '../../helpers/worker-harness.js';

// Two worker invocations (separate createPatchWorker instances: separate in-process locks) on one
// contact through two message groups, against moto and the ClearTalk sandbox over HTTP.
const setup = useWorkerHarness();

const EXTERNAL_KEY = 'shopify:s.myshopify.com:customer:42';

describe('contact lease across worker invocations (moto + sandbox)', () => {
  it('keeps both sources’ custom fields and the newer value when two invocations change one contact at once', async () => {
    const h = await setup();
    h.sandbox.seed([{ id: 1, customField: { existing: 'kept' } }]);
    const links = createLinkStore({ client: h.doc, tableName: h.stack.STATE_TABLE_NAME });
    await links.putLinks('1', { externalKey: EXTERNAL_KEY });

    // Invocation A (group "1") has read the contact and is between a 503 and its PATCH retry:
    // its ClearTalk client's backoff waits on a gate the test opens, so B runs exactly then.
    let paused: () => void = () => undefined;
    const pausedAt = new Promise<void>((resolve) => {
      paused = resolve;
    });
    let resume: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      resume = resolve;
    });
    const invocationA = h.createWorker({
      clearTalkSleep: async () => {
        paused();
        await gate;
      },
    });
    h.sandbox.script({ method: 'PATCH', path: '/contacts/1', status: 503 });
    const older = buildJob({
      source: 'typeform',
      contactId: '1',
      patch: { firstName: 'Older', customField: { typeformScore: 7 } },
      occurredAt: '2026-11-26T10:00:00Z',
    });
    const { contactId: _none, ...newer } = buildJob({
      source: 'shopify',
      match: { externalKey: EXTERNAL_KEY },
      patch: { firstName: 'Newer', customField: { shopifyState: 'enabled' } },
      occurredAt: '2026-11-26T12:00:00Z',
    });

    await h.send(older);
    const runA = h.runBatch({ worker: invocationA, maxMessages: 1 });
    await pausedAt;
    expect(h.sandbox.requests().map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200', 'PATCH 503']);

    // Invocation B (group "shopify:…:42") for the same contact, while A holds it.
    await h.send(newer);
    const runB = await h.runBatch({ maxMessages: 1 });
    expect(runB.records).toHaveLength(1);
    // B waited for A's lease, gave up and handed its record back; it did not touch ClearTalk.
    expect(runB.response.batchItemFailures).toHaveLength(1);
    expect(h.sandbox.requests()).toHaveLength(2);
    expect(h.breaker.state()).toBe('closed');

    resume();
    expect((await runA).response.batchItemFailures).toEqual([]);
    await h.drain();

    expect(h.sandbox.contact(1)).toMatchObject({
      firstName: 'Newer',
      customField: { existing: 'kept', shopifyState: 'enabled', typeformScore: 7 },
    });
    expect(h.patchRequests().map((r) => r.status)).toEqual([503, 200, 200]);
  });
});
