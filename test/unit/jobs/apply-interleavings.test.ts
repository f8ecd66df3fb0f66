import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryLinkStore } from '../../../lib/aws/links.js';
import { createMemoryStateStore, type StateStore } from '../../../lib/aws/state-store.js';
import type { ClearTalkClient } from '../../../lib/cleartalk/client.js';
import { ClearTalkPermanentError, ClearTalkRetryableError } from '../../../lib/cleartalk/errors.js';
import type { Contact, ContactPatch } from '../../../lib/cleartalk/schemas.js';
import { DependencyError } from '../../../lib/errors.js';
import { type ApplyDeps, applyPatchJob, canonicalJson } from '../../../lib/jobs/apply.js';
import { buildContact } from '../../helpers/contact.js';

// Jobs for one contact from two message groups (its id, and an external key linked to it) run in
// any order, while ClearTalk's 2xx sometimes goes unrecorded (the versions write fails, or the
// answer is lost after ClearTalk applied the change) and the job comes back later. Whatever the
// order, each field must end with the value of the latest change that set it.

const EXTERNAL_KEY = 'shopify:s.myshopify.com:customer:42';
const FIELDS = ['firstName', 'lastName', 'customField.a', 'customField.b'] as const;

/** ClearTalk with the sandbox's Idempotency-Key semantics: same key and body replays, unapplied. */
function replayingClearTalk(contact: Contact) {
  let current = contact;
  const answers = new Map<string, { body: string; answer: Contact }>();
  let loseNextAnswer = false;
  let failNext: 'none' | 'unapplied' | 'get' = 'none';
  const client: Pick<ClearTalkClient, 'updateContact' | 'getContact' | 'createContact'> = {
    async getContact() {
      if (failNext === 'get') {
        failNext = 'none';
        throw new ClearTalkRetryableError('GET answered 503', { code: 'retries-exhausted', status: 503 });
      }
      return current;
    },
    async updateContact(_id, patch: ContactPatch, options) {
      const body = canonicalJson(patch);
      if (failNext === 'unapplied') {
        // A 503 that changed nothing (the job cannot tell it from one that did).
        failNext = 'none';
        throw new ClearTalkRetryableError('PATCH answered 503', { code: 'retries-exhausted', status: 503 });
      }
      const known = answers.get(options.idempotencyKey);
      if (known) {
        if (known.body !== body) throw new ClearTalkPermanentError('422', { code: 'rejected', status: 422 });
        return known.answer;
      }
      current = { ...current, ...patch } as Contact;
      answers.set(options.idempotencyKey, { body, answer: current });
      if (loseNextAnswer) {
        loseNextAnswer = false;
        throw new ClearTalkRetryableError('timed out', { code: 'retries-exhausted' });
      }
      return current;
    },
    async createContact() {
      throw new Error('not used');
    },
  };
  return {
    client,
    contact: () => current,
    loseNextAnswer: () => {
      loseNextAnswer = true;
    },
    failNext: (what: 'unapplied' | 'get') => {
      failNext = what;
    },
    /** Ends a fault the job did not use (it made no request): it must not hit the next job. */
    clearFault: () => {
      loseNextAnswer = false;
      failNext = 'none';
    },
  };
}

interface JobSpec {
  readonly byLink: boolean;
  readonly hour: number;
  readonly fields: ReadonlyArray<(typeof FIELDS)[number]>;
}

function bodyOf(spec: JobSpec, index: number): string {
  const patch: Record<string, unknown> = {};
  const custom: Record<string, string> = {};
  for (const field of spec.fields) {
    if (field.startsWith('customField.')) custom[field.slice('customField.'.length)] = `${field}-${index}`;
    else patch[field] = `${field}-${index}`;
  }
  if (Object.keys(custom).length > 0) patch.customField = custom;
  return JSON.stringify({
    version: 1,
    jobId: `job:${index}`,
    source: spec.byLink ? 'shopify' : 'typeform',
    ...(spec.byLink ? { match: { externalKey: EXTERNAL_KEY } } : { contactId: '7' }),
    patch,
    occurredAt: new Date(Date.UTC(2026, 10, 26, spec.hour)).toISOString(),
  });
}

function fieldValue(contact: Contact, field: string): unknown {
  if (field.startsWith('customField.')) {
    return (contact.customField as Record<string, unknown> | null | undefined)?.[field.slice(12)];
  }
  return (contact as unknown as Record<string, unknown>)[field];
}

const jobsArb = fc
  .uniqueArray(fc.integer({ min: 0, max: 23 }), { minLength: 2, maxLength: 6 })
  .chain((hours) =>
    fc.tuple(
      ...hours.map((hour) =>
        fc.record({
          byLink: fc.boolean(),
          hour: fc.constant(hour),
          fields: fc.subarray([...FIELDS], { minLength: 1 }),
        }),
      ),
    ),
  );

describe('applyPatchJob across groups with unrecorded 2xx answers (property)', () => {
  it('leaves every field with the value of its latest change, whatever the order', async () => {
    await fc.assert(
      fc.asyncProperty(
        jobsArb,
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.constantFrom(
              'none',
              'record-fails',
              'answer-lost',
              'ledger-fails',
              'unapplied-503',
              'get-fails',
            ),
          ),
          {
            minLength: 40,
            maxLength: 40,
          },
        ),
        async (specs, schedule) => {
          const clearTalk = replayingClearTalk(buildContact({ id: 7, customField: { z: 'kept' } }));
          const memory = createMemoryStateStore();
          let failRecord = false;
          let failLedger = false;
          // Jobs whose versions were written but whose ledger write failed (until they record again).
          const noLedger = new Set<string>();
          const state: StateStore = {
            ...memory,
            async isApplied(jobId) {
              return !noLedger.has(jobId) && memory.isApplied(jobId);
            },
            async putApplied(job, expected, options) {
              if (failRecord) {
                failRecord = false;
                throw new DependencyError('dynamodb', 'state store: field versions write failed');
              }
              await memory.putApplied(job, expected, options);
              if (failLedger) {
                failLedger = false;
                noLedger.add(job.jobId);
                throw new DependencyError('dynamodb', 'state store: ledger write failed');
              }
              noLedger.delete(job.jobId);
            },
          };
          const links = createMemoryLinkStore();
          await links.putLinks('7', { externalKey: EXTERNAL_KEY });
          const deps: ApplyDeps = {
            clearTalk: clearTalk.client,
            state,
            links,
            policy: () => ({ createIfUnresolved: false }),
            deadlineMs: Date.now() + 60_000,
          };
          const pending = specs.map((spec, index) => ({ index, body: bodyOf(spec, index) }));
          // Any number of 2xx answers left unrecorded, of any jobs, in any order.
          let step = 0;
          while (pending.length > 0) {
            const [pick, fault] = schedule[step % schedule.length] ?? [0, 'none'];
            step++;
            const at = pick % pending.length;
            const job = pending[at];
            if (!job) break;
            const mayFault = step <= schedule.length;
            if (mayFault && fault === 'record-fails') failRecord = true;
            if (mayFault && fault === 'answer-lost') clearTalk.loseNextAnswer();
            if (mayFault && fault === 'ledger-fails') failLedger = true;
            if (mayFault && fault === 'unapplied-503') clearTalk.failNext('unapplied');
            if (mayFault && fault === 'get-fails') clearTalk.failNext('get');
            const outcome = await applyPatchJob(job.body, deps);
            failRecord = false;
            failLedger = false;
            clearTalk.clearFault();
            if (outcome.kind === 'retry') continue;
            expect(outcome.kind).not.toBe('dead-letter');
            pending.splice(at, 1);
          }
          for (const field of FIELDS) {
            const setters = specs
              .map((spec, index) => ({ spec, index }))
              .filter(({ spec }) => spec.fields.includes(field));
            const latest = setters.sort((a, b) => b.spec.hour - a.spec.hour)[0];
            if (latest) expect(fieldValue(clearTalk.contact(), field)).toBe(`${field}-${latest.index}`);
          }
          expect(fieldValue(clearTalk.contact(), 'customField.z')).toBe('kept');
        },
      ),
      { numRuns: Number(process.env.INTERLEAVINGS_RUNS ?? 300) },
    );
  });
});
