import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryLinkStore } from '../../../lib/aws/links.js';
import { createMemoryStateStore } from '../../../lib/aws/state-store.js';
import type { ClearTalkClient } from '../../../lib/cleartalk/client.js';
import {
  ClearTalkInvalidResponseError,
  ClearTalkPermanentError,
  ClearTalkRetryableError,
  InvalidContactIdError,
} from '../../../lib/cleartalk/errors.js';
import type { Contact, ContactPatch } from '../../../lib/cleartalk/schemas.js';
import { DependencyError } from '../../../lib/errors.js';
import {
  type ApplyDeps,
  applyPatchJob,
  CONTACT_BUSY,
  canonicalJson,
  idempotencyKeyFor,
  leaseMarginFor,
  mergeCustomFields,
  newOwnerId,
} from '../../../lib/jobs/apply.js';
import { createKeyedLock } from '../../../lib/jobs/keyed-lock.js';
import type { PatchJob } from '../../../lib/jobs/patch-job.js';
import { buildContact } from '../../helpers/contact.js';

/** A ClearTalk stand-in with the sandbox's semantics (PATCH replaces customField whole). */
function fakeClearTalk() {
  const contacts = new Map<string, Contact>();
  const calls: Array<{ method: string; id?: string; body?: ContactPatch; key?: string }> = [];
  let nextId = 500;
  let failWith: Error | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  const blank = (id: number): Contact => buildContact({ id });
  const guard = async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setImmediate(resolve));
    inFlight--;
    if (failWith) throw failWith;
  };
  const client: ClearTalkClient = {
    async updateContact(id, patch, options) {
      calls.push({ method: 'PATCH', id, body: patch, key: options.idempotencyKey });
      await guard();
      const current = contacts.get(id);
      if (!current) throw new ClearTalkPermanentError('404', { code: 'contact-not-found', status: 404 });
      const next = { ...current, ...patch } as Contact;
      contacts.set(id, next);
      return next;
    },
    async getContact(id) {
      calls.push({ method: 'GET', id });
      await guard();
      const current = contacts.get(id);
      if (!current) throw new ClearTalkPermanentError('404', { code: 'contact-not-found', status: 404 });
      return current;
    },
    async createContact(body, options = {}) {
      calls.push({
        method: 'POST',
        body,
        ...(options.idempotencyKey ? { key: options.idempotencyKey } : {}),
      });
      await guard();
      const contact = { ...blank(nextId++), ...body } as Contact;
      contacts.set(String(contact.id), contact);
      return contact;
    },
  };
  return {
    client,
    calls,
    contacts,
    seed: (id: number, fields: Partial<Contact> = {}) =>
      contacts.set(String(id), { ...blank(id), ...fields }),
    failWith: (error: Error | undefined) => {
      failWith = error;
    },
    maxInFlight: () => maxInFlight,
  };
}

function setup(options: { createIfUnresolved?: boolean } = {}) {
  const clearTalk = fakeClearTalk();
  const state = createMemoryStateStore();
  const links = createMemoryLinkStore();
  const deps: ApplyDeps = {
    clearTalk: clearTalk.client,
    state,
    links,
    policy: () => ({ createIfUnresolved: options.createIfUnresolved ?? false }),
    deadlineMs: Date.now() + 60_000,
  };
  return { clearTalk, state, links, deps };
}

/** Stores and lease on a settable clock, with contact creation on and a 15-minute creation hold. */
function setupCreating(clock: { t: number }) {
  const clearTalk = fakeClearTalk();
  const now = () => clock.t;
  const deps: ApplyDeps = {
    clearTalk: clearTalk.client,
    state: createMemoryStateStore({ now }),
    links: createMemoryLinkStore({ now }),
    policy: () => ({ createIfUnresolved: true }),
    deadlineMs: clock.t + 60_000,
    lease: { now },
    creationHoldMs: 15 * 60_000,
  };
  return { clearTalk, deps };
}

function job(overrides: Partial<PatchJob> = {}): string {
  return JSON.stringify({
    version: 1,
    jobId: 'typeform:form1:tok1',
    source: 'typeform',
    contactId: '7',
    patch: { firstName: 'Ada' },
    occurredAt: '2026-11-26T10:00:00Z',
    ...overrides,
  });
}

describe('applyPatchJob', () => {
  it('patches the contact with an Idempotency-Key of the jobId and the body digest, and records it', async () => {
    const { clearTalk, state, deps } = setup();
    clearTalk.seed(7);
    const outcome = await applyPatchJob(job(), deps);
    expect(outcome).toMatchObject({ kind: 'applied', sent: ['firstName'], job: { contactId: '7' } });
    expect(clearTalk.calls).toEqual([
      {
        method: 'PATCH',
        id: '7',
        body: { firstName: 'Ada' },
        key: idempotencyKeyFor('typeform:form1:tok1', { body: { firstName: 'Ada' } }),
      },
    ]);
    expect(clearTalk.calls[0]?.key).toMatch(/^typeform:form1:tok1#[0-9a-f]{16}$/);
    expect(state.ledger().get('typeform:form1:tok1')).toEqual({ contactId: '7', source: 'typeform' });
  });

  it('dead-letters a body that is not JSON, and one that is not a PatchJob, as invalid-job', async () => {
    const { deps } = setup();
    expect(await applyPatchJob('{oops', deps)).toMatchObject({ kind: 'dead-letter', reason: 'invalid-job' });
    const outcome = await applyPatchJob(job({ occurredAt: 'yesterday' }), deps);
    expect(outcome).toMatchObject({
      kind: 'dead-letter',
      reason: 'invalid-job',
      job: { jobId: 'typeform:form1:tok1' },
    });
    expect(outcome.kind === 'dead-letter' && outcome.message).toMatch(/occurredAt/);
  });

  it('dead-letters a job whose occurredAt is more than 24 h ahead of the clock as invalid-job, without a request', async () => {
    const { clearTalk, state, deps } = setup();
    clearTalk.seed(7);
    const now = Date.parse('2026-11-27T00:00:00Z');
    const clocked: ApplyDeps = { ...deps, lease: { now: () => now } };
    const ahead = (hours: number) => new Date(now + hours * 3_600_000).toISOString();
    const outcome = await applyPatchJob(job({ jobId: 'f', occurredAt: ahead(25) }), clocked);
    expect(outcome).toMatchObject({ kind: 'dead-letter', reason: 'invalid-job', clearTalk: 'not-called' });
    expect(outcome.kind === 'dead-letter' && outcome.message).toMatch(/occurredAt .* 25 h ahead/);
    expect(clearTalk.calls).toEqual([]);
    expect(await state.isApplied('f')).toBe(false);
    // Within the day (clock skew, a producer a little ahead): applied.
    expect(await applyPatchJob(job({ jobId: 'g', occurredAt: ahead(23) }), clocked)).toMatchObject({
      kind: 'applied',
    });
  });

  it('resolves a match through the links, and dead-letters an unknown one as unresolved-contact', async () => {
    const { clearTalk, links, deps } = setup();
    clearTalk.seed(9);
    await links.putLinks('9', { externalKey: 'shopify:s.myshopify.com:customer:1' });
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    const linked = JSON.stringify({ ...rest, match: { externalKey: 'shopify:s.myshopify.com:customer:1' } });
    expect(await applyPatchJob(linked, deps)).toMatchObject({ kind: 'applied', job: { contactId: '9' } });

    const unknown = JSON.stringify({ ...rest, jobId: 'j2', match: { email: 'nobody@example.com' } });
    const outcome = await applyPatchJob(unknown, deps);
    expect(outcome).toMatchObject({ kind: 'dead-letter', reason: 'unresolved-contact' });
    expect(JSON.stringify(outcome)).not.toContain('nobody@example.com');
  });

  it('creates an unresolved contact when the source is configured to, and links it', async () => {
    const { clearTalk, links, deps } = setup({ createIfUnresolved: true });
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    const body = JSON.stringify({ ...rest, match: { email: 'new@example.com' } });
    const outcome = await applyPatchJob(body, deps);
    expect(outcome).toMatchObject({ kind: 'applied', created: true, job: { contactId: '500' } });
    expect(clearTalk.calls).toEqual([
      { method: 'POST', body: { firstName: 'Ada' }, key: 'create:typeform:form1:tok1' },
    ]);
    expect(await links.resolve({ email: 'NEW@example.com' })).toBe('500');
  });

  it('creates one contact for one new person reached through two groups at once; the other job is handed back, then updates it', async () => {
    const { clearTalk, links, deps } = setup({ createIfUnresolved: true });
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    // A Shopify job keyed by external key and a Typeform job keyed by email, for one person.
    const shopify = JSON.stringify({
      ...rest,
      jobId: 'shopify:s:customers/create:1',
      source: 'shopify',
      patch: { firstName: 'Ada' },
      match: { externalKey: 'shopify:s.myshopify.com:customer:1', email: 'ada@example.com' },
    });
    const typeform = JSON.stringify({
      ...rest,
      jobId: 'typeform:form1:tok9',
      patch: { lastName: 'Lovelace' },
      occurredAt: '2026-11-26T11:00:00Z',
      match: { email: 'ADA@example.com' },
    });
    const [first, second] = await Promise.all([applyPatchJob(shopify, deps), applyPatchJob(typeform, deps)]);
    expect(first).toMatchObject({ kind: 'applied', created: true, job: { contactId: '500' } });
    expect(second).toMatchObject({ kind: 'retry', code: 'contact-busy', clearTalk: 'not-called' });
    expect(second.kind === 'retry' && second.message).toMatch(
      /another job is creating the contact for the job's email/,
    );
    expect(clearTalk.calls.map((c) => c.method)).toEqual(['POST']);

    // The redelivery finds the link the first job stored.
    expect(await applyPatchJob(typeform, deps)).toMatchObject({
      kind: 'applied',
      created: false,
      job: { contactId: '500' },
    });
    expect(clearTalk.calls.map((c) => `${c.method} ${c.id ?? ''}`)).toEqual(['POST ', 'PATCH 500']);
    expect(clearTalk.contacts.get('500')).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace' });
    expect(await links.resolve({ email: 'ada@example.com' })).toBe('500');
  });

  it('updates the contact another job linked while this one was looking, instead of creating one', async () => {
    const { clearTalk, links, deps } = setup({ createIfUnresolved: true });
    clearTalk.seed(42);
    // The link appears between this job's lookup and its claim.
    const racing = {
      ...deps,
      links: {
        ...links,
        resolve: links.resolve,
        putLinks: links.putLinks,
        releaseCreation: links.releaseCreation,
        async claimCreation(
          match: Parameters<typeof links.claimCreation>[0],
          claim: Parameters<typeof links.claimCreation>[1],
        ) {
          await links.putLinks('42', { email: 'late@example.com' });
          return links.claimCreation(match, claim);
        },
      },
    };
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    const body = JSON.stringify({ ...rest, match: { email: 'late@example.com' } });
    expect(await applyPatchJob(body, racing)).toMatchObject({
      kind: 'applied',
      created: false,
      job: { contactId: '42' },
    });
    expect(clearTalk.calls.map((c) => `${c.method} ${c.id ?? ''}`)).toEqual(['PATCH 42']);
  });

  it('gives the creation claim back when ClearTalk refused the POST', async () => {
    const { clearTalk, links, deps } = setup({ createIfUnresolved: true });
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    const match = { email: 'refused@example.com', phone: '+15550001111' };
    clearTalk.failWith(new ClearTalkPermanentError('422', { code: 'rejected', status: 422 }));
    expect(await applyPatchJob(JSON.stringify({ ...rest, match }), deps)).toMatchObject({
      kind: 'dead-letter',
      reason: 'rejected',
    });
    // Nothing was created, so another job may create the contact at once.
    expect(await links.claimCreation(match, { owner: 'other', untilMs: Date.now() + 60_000 })).toEqual({
      claimed: true,
    });
  });

  it('holds the claim after a POST whose outcome is unknown, for the same job’s redelivery only', async () => {
    const clock = { t: Date.parse('2026-11-27T10:00:00Z') };
    const { clearTalk, deps } = setupCreating(clock);
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    const match = { email: 'unknown@example.com' };
    const body = JSON.stringify({ ...rest, match });
    // 503s until the deadline: the POST may have created the contact.
    clearTalk.failWith(new ClearTalkRetryableError('503s', { code: 'retries-exhausted', status: 503 }));
    expect(await applyPatchJob(body, deps)).toMatchObject({ kind: 'retry', code: 'retries-exhausted' });
    clearTalk.failWith(undefined);
    // Long after this attempt's deadline, a job of another group is still handed back...
    clock.t += 10 * 60_000;
    const other = JSON.stringify({ ...rest, jobId: 'typeform:form1:tok-other', match });
    expect(await applyPatchJob(other, { ...deps, deadlineMs: clock.t + 60_000 })).toMatchObject({
      kind: 'retry',
      code: 'contact-busy',
    });
    // ...while the job's own redelivery takes the claim back and repeats the POST with its key.
    expect(await applyPatchJob(body, { ...deps, deadlineMs: clock.t + 60_000 })).toMatchObject({
      kind: 'applied',
      created: true,
    });
    expect(clearTalk.calls.map((c) => `${c.method} ${c.key}`)).toEqual([
      'POST create:typeform:form1:tok1',
      'POST create:typeform:form1:tok1',
    ]);
    // The other job now finds the contact (same value: a no-op), and no second one is created.
    expect(await applyPatchJob(other, { ...deps, deadlineMs: clock.t + 60_000 })).toMatchObject({
      kind: 'skipped',
      job: { contactId: '500' },
    });
    expect(clearTalk.contacts.size).toBe(1);
  });

  it('holds the claim when the state table fails right after the contact was created', async () => {
    const clock = { t: Date.parse('2026-11-27T10:00:00Z') };
    const { clearTalk, deps } = setupCreating(clock);
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    const match = { email: 'stored-nothing@example.com' };
    const failing: ApplyDeps = {
      ...deps,
      state: {
        ...deps.state,
        acquireContactLease: async () => {
          throw new DependencyError('dynamodb', 'state store: contact lease write failed (Throttled)');
        },
      },
    };
    expect(await applyPatchJob(JSON.stringify({ ...rest, match }), failing)).toMatchObject({ kind: 'retry' });
    expect(clearTalk.contacts.size).toBe(1);
    // Past this attempt's deadline + margin, another group's job still may not create a second one.
    clock.t += 5 * 60_000;
    const other = JSON.stringify({ ...rest, jobId: 'typeform:form1:tok-other', match });
    expect(await applyPatchJob(other, { ...deps, deadlineMs: clock.t + 60_000 })).toMatchObject({
      kind: 'retry',
      code: 'contact-busy',
    });
    expect(clearTalk.contacts.size).toBe(1);
  });

  it('lets another group’s job take over a held claim once the hold has passed', async () => {
    const clock = { t: Date.parse('2026-11-27T10:00:00Z') };
    const { clearTalk, deps } = setupCreating(clock);
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    const match = { email: 'gone@example.com' };
    clearTalk.failWith(new ClearTalkRetryableError('timeout', { code: 'retries-exhausted' }));
    await applyPatchJob(JSON.stringify({ ...rest, match }), deps);
    clearTalk.failWith(undefined);
    clock.t += 15 * 60_000 + 1;
    const other = JSON.stringify({ ...rest, jobId: 'typeform:form1:tok-other', match });
    expect(await applyPatchJob(other, { ...deps, deadlineMs: clock.t + 60_000 })).toMatchObject({
      kind: 'applied',
      created: true,
    });
  });

  it('holds the new contact’s lease until its versions are written, so a job that finds the new link waits', async () => {
    const { clearTalk, links, state, deps: base } = setup({ createIfUnresolved: true });
    const deps: ApplyDeps = { ...base, lease: { waitMs: 0, sleep: async () => undefined } };
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    const match = { email: 'window@example.com' };
    const creator = JSON.stringify({
      ...rest,
      patch: { tag: 'new' },
      occurredAt: '2026-11-26T12:00:00Z',
      match,
    });
    // An older change for the same person, from another group, arriving just after the links.
    const older = JSON.stringify({
      ...rest,
      jobId: 'shopify:s:customers/update:1',
      patch: { tag: 'old' },
      occurredAt: '2026-11-26T11:00:00Z',
      match,
    });
    let olderOutcome: Awaited<ReturnType<typeof applyPatchJob>> | undefined;
    const racing: ApplyDeps = {
      ...deps,
      links: {
        ...links,
        async linkCreated(contactId, keys) {
          const linked = await links.linkCreated(contactId, keys);
          olderOutcome = await applyPatchJob(older, { ...deps, links });
          return linked;
        },
      },
    };
    expect(await applyPatchJob(creator, racing)).toMatchObject({ kind: 'applied', created: true });
    expect(olderOutcome).toMatchObject({ kind: 'retry', code: 'contact-busy' });
    // Its redelivery sees the creation's versions: the older tag is stale.
    expect(await applyPatchJob(older, deps)).toMatchObject({
      kind: 'skipped',
      dropped: [{ field: 'tag', reason: 'stale' }],
    });
    expect(clearTalk.contacts.get('500')?.tag).toBe('new');
    expect(state.ledger().has('shopify:s:customers/update:1')).toBe(true);
  });

  it('merges custom fields into the contact’s current ones, keys sorted', async () => {
    const { clearTalk, deps } = setup();
    clearTalk.seed(7, { customField: { zeta: 'kept', plan: 'free' } });
    await applyPatchJob(job({ patch: { customField: { plan: 'pro', visits: 2 } } }), deps);
    expect(clearTalk.calls.map((c) => c.method)).toEqual(['GET', 'PATCH']);
    const sent = clearTalk.calls[1]?.body?.customField;
    expect(sent).toEqual({ plan: 'pro', visits: 2, zeta: 'kept' });
    expect(Object.keys(sent ?? {})).toEqual(['plan', 'visits', 'zeta']);
  });

  it('maps ClearTalk errors: 404 to contact-not-found, a bad body to invalid-response, a bad id to invalid-job', async () => {
    const { clearTalk, deps } = setup();
    expect(await applyPatchJob(job(), deps)).toMatchObject({
      kind: 'dead-letter',
      reason: 'contact-not-found',
      status: 404,
      clearTalk: 'answered',
    });
    clearTalk.seed(7);
    clearTalk.failWith(new ClearTalkInvalidResponseError('bad body', { status: 200 }));
    expect(await applyPatchJob(job({ jobId: 'j2' }), deps)).toMatchObject({
      reason: 'invalid-response',
      status: 200,
    });
    clearTalk.failWith(new InvalidContactIdError('bad id'));
    expect(await applyPatchJob(job({ jobId: 'j3' }), deps)).toMatchObject({ reason: 'invalid-job' });
  });

  it('asks for a retry on a retryable failure and records nothing', async () => {
    const { clearTalk, state, deps } = setup();
    clearTalk.seed(7);
    clearTalk.failWith(new ClearTalkRetryableError('503s', { code: 'retries-exhausted', status: 503 }));
    const outcome = await applyPatchJob(job(), deps);
    expect(outcome).toMatchObject({
      kind: 'retry',
      code: 'retries-exhausted',
      status: 503,
      clearTalk: 'failed',
    });
    expect(state.ledger().size).toBe(0);
  });

  it('retries when recording fails after a 2xx, and the redelivery sends the same Idempotency-Key', async () => {
    const { clearTalk, state, deps } = setup();
    clearTalk.seed(7);
    const realPut = state.putApplied;
    state.putApplied = async () => {
      throw new Error('DynamoDB down');
    };
    expect(await applyPatchJob(job(), deps)).toMatchObject({ kind: 'retry' });
    state.putApplied = realPut;
    expect(await applyPatchJob(job(), deps)).toMatchObject({ kind: 'applied' });
    const keys = clearTalk.calls.filter((c) => c.method === 'PATCH').map((c) => c.key);
    expect(keys).toHaveLength(2);
    expect(keys[1]).toBe(keys[0]);
  });

  it('changes the Idempotency-Key of a redelivery when another job recorded a change to a sent field in between', async () => {
    const { clearTalk, state, deps } = setup();
    clearTalk.seed(7);
    const realPut = state.putApplied;
    state.putApplied = async () => {
      throw new Error('DynamoDB down');
    };
    const newer = job({ patch: { firstName: 'Newer' }, occurredAt: '2026-11-26T12:00:00Z' });
    expect(await applyPatchJob(newer, deps)).toMatchObject({ kind: 'retry' });
    state.putApplied = realPut;
    // An older change of firstName (another group) lands while the newer one is unrecorded.
    const older = job({ jobId: 'older', patch: { firstName: 'Older' }, occurredAt: '2026-11-26T10:00:00Z' });
    expect(await applyPatchJob(older, deps)).toMatchObject({ kind: 'applied' });
    expect(await applyPatchJob(newer, deps)).toMatchObject({ kind: 'applied' });
    const keys = clearTalk.calls.filter((c) => c.method === 'PATCH').map((c) => c.key);
    expect(keys).toHaveLength(3);
    expect(keys[2]).not.toBe(keys[0]);
    expect(keys[2]).toMatch(/^typeform:form1:tok1#[0-9a-f]{16}$/);
    expect(clearTalk.contacts.get('7')?.firstName).toBe('Newer');
  });

  it('sends a creating job to the contact its key was linked to during the POST, also on its redelivery', async () => {
    const { clearTalk, links, state, deps: base } = setup({ createIfUnresolved: true });
    clearTalk.seed(7);
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    const match = { externalKey: 'shopify:s.myshopify.com:customer:9', email: 'late@example.com' };
    const creating = JSON.stringify({ ...rest, patch: { firstName: 'Ada' }, match });
    const deps: ApplyDeps = {
      ...base,
      clearTalk: {
        ...clearTalk.client,
        async createContact(body, options) {
          // A links import for the email lands while the POST runs.
          await links.putLinks('7', { email: match.email });
          const created = await clearTalk.client.createContact(body, options);
          // And the update of contact 7 that follows fails once.
          clearTalk.failWith(new ClearTalkRetryableError('503', { code: 'retries-exhausted', status: 503 }));
          return created;
        },
      },
    };
    expect(await applyPatchJob(creating, deps)).toMatchObject({ kind: 'retry' });
    // Every key of the person now names 7, the external key (looked up first) included.
    expect(await links.resolve({ externalKey: match.externalKey })).toBe('7');
    clearTalk.failWith(undefined);
    expect(await applyPatchJob(creating, deps)).toMatchObject({
      kind: 'applied',
      job: { contactId: '7' },
      created: false,
    });
    expect(clearTalk.calls.filter((c) => c.method === 'POST')).toHaveLength(1);
    expect(clearTalk.contacts.get('7')?.firstName).toBe('Ada');
    expect(await links.resolve({ email: match.email })).toBe('7');
    expect(await links.resolve({ externalKey: match.externalKey })).toBe('7');
    expect(state.ledger().get('typeform:form1:tok1')).toEqual({ contactId: '7', source: 'typeform' });
    expect((await state.getFieldVersions('500')).lease).toBeUndefined();
  });

  it('works on one contact at a time when two groups name the same contact', async () => {
    const { clearTalk, links, deps } = setup();
    clearTalk.seed(7);
    await links.putLinks('7', { externalKey: 'shopify:s.myshopify.com:customer:42' });
    const lock = createKeyedLock();
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    const byLink = JSON.stringify({
      ...rest,
      jobId: 'b',
      match: { externalKey: 'shopify:s.myshopify.com:customer:42' },
      patch: { lastName: 'L' },
    });
    await Promise.all([
      applyPatchJob(job({ jobId: 'a' }), { ...deps, lock }),
      applyPatchJob(byLink, { ...deps, lock }),
    ]);
    expect(clearTalk.maxInFlight()).toBe(1);
    expect(clearTalk.contacts.get('7')).toMatchObject({ firstName: 'Ada', lastName: 'L' });
  });
});

describe('applyPatchJob: a redacted customer', () => {
  const shop = 's.myshopify.com';
  const externalKey = `shopify:${shop}:customer:77`;
  const match = { externalKey, email: 'gone@example.com' };
  const redactAt = Date.parse('2026-11-26T12:00:00Z');
  const shopifyJob = (occurredAt: string, jobId = `shopify:${occurredAt}`) => {
    const { contactId: _drop, ...rest } = JSON.parse(job()) as PatchJob;
    return JSON.stringify({ ...rest, jobId, source: 'shopify', match, occurredAt });
  };

  it('skips a change from before the redact without a request, a dead letter or a link, even where it may create', async () => {
    for (const createIfUnresolved of [false, true]) {
      const clock = { t: redactAt };
      const { clearTalk, deps } = setupCreating(clock);
      const run = { ...deps, policy: () => ({ createIfUnresolved }) };
      await deps.links.putLinks('7', match);
      clearTalk.seed(7);
      await (deps.links as ReturnType<typeof createMemoryLinkStore>).removeCustomerLinks(shop, '77');
      const outcome = await applyPatchJob(shopifyJob('2026-11-26T10:00:00Z'), run);
      expect(outcome).toEqual({
        kind: 'skipped',
        job: { jobId: 'shopify:2026-11-26T10:00:00Z', source: 'shopify' },
        dropped: [{ field: 'firstName', reason: 'redacted' }],
        clearTalk: 'not-called',
      });
      expect(clearTalk.calls).toEqual([]);
      expect((await deps.links.lookup(match)).contactId).toBeUndefined();
    }
  });

  it('treats a change from after the redact as a new person (dead letter by default, created when configured)', async () => {
    const clock = { t: redactAt };
    const { clearTalk, deps } = setupCreating(clock);
    await deps.links.putLinks('7', match);
    await (deps.links as ReturnType<typeof createMemoryLinkStore>).removeCustomerLinks(shop, '77');
    const later = shopifyJob('2026-11-26T13:00:00Z');
    expect(
      await applyPatchJob(later, { ...deps, policy: () => ({ createIfUnresolved: false }) }),
    ).toMatchObject({
      kind: 'dead-letter',
      reason: 'unresolved-contact',
    });
    expect(await applyPatchJob(later, deps)).toMatchObject({ kind: 'applied', created: true });
    expect(clearTalk.calls.map((c) => c.method)).toEqual(['POST']);
    expect((await deps.links.lookup(match)).contactId).toBe('500');
  });

  it('does not link the person again when the redact lands while the PATCH runs', async () => {
    const { clearTalk, links, deps: base } = setup();
    clearTalk.seed(7);
    await links.putLinks('7', match);
    const deps: ApplyDeps = {
      ...base,
      clearTalk: {
        ...clearTalk.client,
        async updateContact(id, patch, options) {
          await links.removeCustomerLinks(shop, '77', { email: match.email });
          return clearTalk.client.updateContact(id, patch, options);
        },
      },
    };
    // Dated before now: the redact (now) comes after the change.
    expect(await applyPatchJob(shopifyJob('2026-11-26T10:00:00Z'), deps)).toMatchObject({
      kind: 'applied',
      job: { contactId: '7' },
    });
    expect(await links.resolve(match)).toBeUndefined();
    expect((await links.lookup(match)).redactedAt).toBeDefined();
  });

  it('leaves a contact created while the redact landed unlinked, named for an operator', async () => {
    const clock = { t: redactAt - 1_000 };
    const { clearTalk, deps: base } = setupCreating(clock);
    const links = base.links as ReturnType<typeof createMemoryLinkStore>;
    const deps: ApplyDeps = {
      ...base,
      clearTalk: {
        ...clearTalk.client,
        async createContact(body, options) {
          const created = await clearTalk.client.createContact(body, options);
          clock.t = redactAt;
          await links.removeCustomerLinks(shop, '77', { email: match.email });
          return created;
        },
      },
    };
    const outcome = await applyPatchJob(shopifyJob('2026-11-26T10:00:00Z'), deps);
    expect(outcome).toEqual({
      kind: 'skipped',
      job: { jobId: 'shopify:2026-11-26T10:00:00Z', source: 'shopify', contactId: '500' },
      dropped: [{ field: 'firstName', reason: 'redacted' }],
      unlinkedCreated: '500',
      clearTalk: 'answered',
    });
    expect(await links.resolve(match)).toBeUndefined();
    // No versions and no lease left on the new contact.
    expect(await deps.state.getFieldVersions('500')).toMatchObject({ fields: {} });
    expect((await deps.state.getFieldVersions('500')).lease).toBeUndefined();
  });
});

describe('applyPatchJob: the contact lease', () => {
  const NOW = Date.parse('2026-11-27T00:00:00Z');

  function leased() {
    const base = setup();
    let clock = NOW;
    const sleeps: number[] = [];
    const state = createMemoryStateStore({ now: () => clock });
    const releases: string[] = [];
    const realRelease = state.releaseContactLease;
    state.releaseContactLease = async (contactId, owner, options) => {
      releases.push(owner);
      return realRelease(contactId, owner, options);
    };
    let owners = 0;
    const deps: ApplyDeps = {
      ...base.deps,
      state,
      deadlineMs: NOW + 60_000,
      lease: {
        waitMs: 3_000,
        marginMs: 10_000,
        now: () => clock,
        sleep: async (ms) => {
          sleeps.push(ms);
          clock += ms;
        },
        newOwner: () => `owner-${++owners}`,
      },
    };
    return {
      ...base,
      state,
      deps,
      sleeps,
      releases,
      advance: (ms: number) => {
        clock += ms;
      },
    };
  }

  it('takes the lease until deadline + margin and drops it in the versions write, without a separate release', async () => {
    const { clearTalk, state, deps, releases } = leased();
    clearTalk.seed(7);
    let seenLease: unknown;
    const realGet = clearTalk.client.getContact;
    clearTalk.client.getContact = async (id, options) => {
      seenLease = (await state.getFieldVersions('7')).lease;
      return realGet(id, options);
    };
    const outcome = await applyPatchJob(job({ patch: { customField: { plan: 'pro' } } }), deps);
    expect(outcome).toMatchObject({ kind: 'applied' });
    expect(seenLease).toEqual({ owner: 'owner-1', untilMs: NOW + 70_000 });
    expect((await state.getFieldVersions('7')).lease).toBeUndefined();
    expect(releases).toEqual([]);
  });

  it('keeps the lease past the time the worker holds back after its deadline (DEADLINE_SAFETY_MS)', () => {
    // The function runs until deadline + safety at most: the lease must outlive that.
    expect(leaseMarginFor(3_000)).toBe(10_000);
    expect(leaseMarginFor(20_000)).toBe(25_000);
    for (const safety of [0, 1_000, 5_000, 9_000, 30_000, 120_000])
      expect(leaseMarginFor(safety)).toBeGreaterThan(safety);
  });

  it('releases the lease of a skipped job in its versions write', async () => {
    const { clearTalk, state, deps, releases } = leased();
    clearTalk.seed(7);
    await applyPatchJob(job({ jobId: 'a' }), deps);
    expect(await applyPatchJob(job({ jobId: 'b' }), deps)).toMatchObject({ kind: 'skipped' });
    expect((await state.getFieldVersions('7')).lease).toBeUndefined();
    expect(releases).toEqual([]);
  });

  it('waits with a capped backoff while another invocation holds the contact, then hands the record back as contact-busy', async () => {
    const { clearTalk, state, deps, sleeps } = leased();
    clearTalk.seed(7);
    await state.acquireContactLease('7', { owner: 'other', untilMs: NOW + 70_000 });
    const outcome = await applyPatchJob(job(), deps);
    expect(outcome).toMatchObject({ kind: 'retry', code: CONTACT_BUSY, clearTalk: 'not-called' });
    expect(clearTalk.calls).toEqual([]);
    expect(sleeps.slice(0, 5)).toEqual([50, 100, 200, 400, 500]);
    expect(Math.max(...sleeps)).toBe(500);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(3_000);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThan(2_000);
    expect((await state.getFieldVersions('7')).lease?.owner).toBe('other');
    expect(state.ledger().size).toBe(0);
  });

  it('never waits past the deadline', async () => {
    const { clearTalk, state, deps, sleeps } = leased();
    clearTalk.seed(7);
    await state.acquireContactLease('7', { owner: 'other', untilMs: NOW + 70_000 });
    const outcome = await applyPatchJob(job(), { ...deps, deadlineMs: NOW + 400 });
    expect(outcome).toMatchObject({ kind: 'retry', code: CONTACT_BUSY });
    // 50 + 100 + 200 = 350 ms; the next 400 ms would end past the deadline.
    expect(sleeps).toEqual([50, 100, 200]);
  });

  it('goes ahead once the other invocation releases the contact during the wait', async () => {
    const { clearTalk, state, deps, sleeps } = leased();
    clearTalk.seed(7);
    await state.acquireContactLease('7', { owner: 'other', untilMs: NOW + 70_000 });
    const sleep = deps.lease?.sleep as (ms: number) => Promise<void>;
    const outcome = await applyPatchJob(job(), {
      ...deps,
      lease: {
        ...deps.lease,
        sleep: async (ms) => {
          await sleep(ms);
          if (sleeps.length === 2) await state.releaseContactLease('7', 'other');
        },
      },
    });
    expect(outcome).toMatchObject({ kind: 'applied' });
    expect(sleeps).toEqual([50, 100]);
  });

  it('gives every job attempt its own owner id: one random id per container and a counter', () => {
    const ids = Array.from({ length: 1000 }, () => newOwnerId());
    expect(new Set(ids).size).toBe(1000);
    const [container] = (ids[0] as string).split(':');
    expect(container).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids.every((id) => id.startsWith(`${container}:`))).toBe(true);
  });

  it('takes over a lease that expired (its Lambda died)', async () => {
    const { clearTalk, state, deps, sleeps, advance } = leased();
    clearTalk.seed(7);
    await state.acquireContactLease('7', { owner: 'dead', untilMs: NOW + 1_000 });
    advance(1_001);
    expect(await applyPatchJob(job(), deps)).toMatchObject({ kind: 'applied' });
    expect(sleeps).toEqual([]);
  });

  it('releases the lease on a retry, a dead letter, a duplicate and a failed recording', async () => {
    const { clearTalk, state, deps, releases } = leased();
    clearTalk.seed(7);
    clearTalk.failWith(new ClearTalkRetryableError('503', { code: 'retries-exhausted', status: 503 }));
    expect(await applyPatchJob(job({ jobId: 'r' }), deps)).toMatchObject({ kind: 'retry' });
    clearTalk.failWith(undefined);
    expect(await applyPatchJob(job({ jobId: 'n', contactId: '404' }), deps)).toMatchObject({
      kind: 'dead-letter',
      reason: 'contact-not-found',
    });
    expect(await applyPatchJob(job({ jobId: 'r' }), deps)).toMatchObject({ kind: 'applied' });
    expect(await applyPatchJob(job({ jobId: 'r' }), deps)).toMatchObject({ kind: 'duplicate' });
    const realPut = state.putApplied;
    state.putApplied = async () => {
      throw new Error('DynamoDB down');
    };
    expect(
      await applyPatchJob(
        job({ jobId: 'p', patch: { lastName: 'L' }, occurredAt: '2026-11-26T11:00:00Z' }),
        deps,
      ),
    ).toMatchObject({ kind: 'retry' });
    state.putApplied = realPut;
    // owner-1 (503), owner-2 (404), owner-4 (duplicate), owner-5 (recording failed); owner-3 released by its write.
    expect(releases).toEqual(['owner-1', 'owner-2', 'owner-4', 'owner-5']);
    for (const id of ['7', '404']) expect((await state.getFieldVersions(id)).lease).toBeUndefined();
    // The attempts whose PATCH may have changed the contact unrecorded: r's first (503s: unknown)
    // went when r recorded; p's (2xx, recording failed) stays. The 404 changed nothing.
    expect((await state.getFieldVersions('7')).unrecorded).toEqual([`${NOW}|owner-5|p`]);
    expect((await state.getFieldVersions('404')).unrecorded).toBeUndefined();
  });

  it('marks an attempt unrecorded only when its PATCH may have changed the contact', async () => {
    const { clearTalk, state, deps } = leased();
    clearTalk.seed(7);
    // The custom-field merge's GET fails: no PATCH was sent.
    clearTalk.failWith(new ClearTalkRetryableError('503', { code: 'retries-exhausted', status: 503 }));
    expect(await applyPatchJob(job({ jobId: 'g', patch: { customField: { a: 1 } } }), deps)).toMatchObject({
      kind: 'retry',
    });
    expect(clearTalk.calls.map((c) => c.method)).toEqual(['GET']);
    // ClearTalk refused the PATCH (422): nothing changed.
    clearTalk.failWith(new ClearTalkPermanentError('422', { code: 'rejected', status: 422 }));
    expect(await applyPatchJob(job({ jobId: 'x' }), deps)).toMatchObject({ kind: 'dead-letter' });
    expect((await state.getFieldVersions('7')).unrecorded).toBeUndefined();
    // A 2xx whose body was not a contact: it may have been applied.
    clearTalk.failWith(new ClearTalkInvalidResponseError('not a contact', { status: 200 }));
    expect(await applyPatchJob(job({ jobId: 'i' }), deps)).toMatchObject({ kind: 'dead-letter' });
    expect((await state.getFieldVersions('7')).unrecorded).toEqual([`${NOW}|owner-3|i`]);
  });

  it('releases the lease when the ledger read fails, and reports a retry', async () => {
    const { clearTalk, state, deps, releases } = leased();
    clearTalk.seed(7);
    state.isApplied = async () => {
      throw new Error('DynamoDB down');
    };
    expect(await applyPatchJob(job(), deps)).toMatchObject({ kind: 'retry', clearTalk: 'not-called' });
    expect(releases).toEqual(['owner-1']);
    expect((await state.getFieldVersions('7')).lease).toBeUndefined();
    expect(clearTalk.calls).toEqual([]);
  });
});

describe('idempotencyKeyFor', () => {
  it('uses the jobId when it can be a header, and its hash otherwise', () => {
    expect(idempotencyKeyFor('typeform:f:t')).toBe('typeform:f:t');
    expect(idempotencyKeyFor('ext:naïve')).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(idempotencyKeyFor('x'.repeat(1024), { prefix: 'create:' })).toMatch(/^create:sha256:/);
  });

  it('adds a digest of the body that ignores key order and changes with any value', () => {
    const a = idempotencyKeyFor('j', { body: { firstName: 'A', customField: { x: 1, y: 'b' } } });
    const b = idempotencyKeyFor('j', { body: { customField: { y: 'b', x: 1 }, firstName: 'A' } });
    const c = idempotencyKeyFor('j', { body: { firstName: 'A', customField: { x: 2, y: 'b' } } });
    expect(a).toMatch(/^j#[0-9a-f]{16}$/);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(idempotencyKeyFor('ext:naïve', { body: { tag: 't' } })).toMatch(
      /^sha256:[0-9a-f]{64}#[0-9a-f]{16}$/,
    );
  });
});

describe('canonicalJson', () => {
  // The digest's input as first shipped: JSON.stringify with a replacer that sorts every object.
  // Keys already in flight (dead-letter queue, redeliveries) must keep their digests.
  const sortedStringify = (value: unknown) =>
    JSON.stringify(value, (_key, item: unknown) =>
      item === null || typeof item !== 'object' || Array.isArray(item)
        ? item
        : Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    );

  it('equals JSON.stringify with every object sorted by key, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(canonicalJson(value)).toBe(sortedStringify(value));
      }),
      { numRuns: 500 },
    );
  });

  it('orders array-index keys first and numerically, as the first digest did', () => {
    const value = { b: 1, '10': 2, a: 3, '2': 4, '': 5, '01': 6, '4294967295': 7 };
    expect(canonicalJson(value)).toBe(sortedStringify(value));
    expect(canonicalJson(value)).toBe('{"2":4,"10":2,"":5,"01":6,"4294967295":7,"a":3,"b":1}');
  });

  it('leaves out undefined members as JSON.stringify does', () => {
    expect(canonicalJson({ b: 1, a: undefined, c: [undefined, 2] })).toBe('{"b":1,"c":[null,2]}');
  });

  it('keeps the body digest of a patch as it was', () => {
    const body = { tag: 't', customField: { z: null, a: 1.5, m: true }, firstName: 'Ada' };
    const digest = createHash('sha256').update(sortedStringify(body)).digest('hex').slice(0, 16);
    expect(idempotencyKeyFor('j', { body })).toBe(`j#${digest}`);
  });
});

describe('mergeCustomFields', () => {
  it('keeps current keys, overrides with the patch and copes with no current fields', () => {
    expect(mergeCustomFields({ a: 1, b: 'x' }, { b: 'y' })).toEqual({ a: 1, b: 'y' });
    expect(mergeCustomFields(null, { b: 'y' })).toEqual({ b: 'y' });
  });
});
