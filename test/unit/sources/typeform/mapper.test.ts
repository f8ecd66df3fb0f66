import { describe, expect, it } from 'vitest';
import { PatchJobSchema } from '../../../../lib/jobs/patch-job.js';
import { parseMappingConfig } from '../../../../lib/sources/mapping-config.js';
import type { MapOutcome } from '../../../../lib/sources/outcome.js';
import { mapTypeformResponse } from '../../../../lib/sources/typeform/mapper.js';
import {
  type FormResponseInput,
  FormResponseSchema,
  TypeformWebhookSchema,
} from '../../../../lib/sources/typeform/schema.js';
import { loadFixture } from '../load-fixture.js';

const defaults = parseMappingConfig({}, 'test');
const context = { config: defaults, defaultPhoneRegion: 'US' };

function fixtureResponse() {
  return TypeformWebhookSchema.parse(loadFixture('typeform/form-response.json')).form_response;
}

function response(overrides: Partial<FormResponseInput> & { answers?: unknown[] } = {}) {
  return FormResponseSchema.parse({
    form_id: 'lT4Z3j',
    token: 'tok123',
    submitted_at: '2026-11-26T10:00:00Z',
    ...overrides,
  });
}

const field = (ref: string, type = 'short_text') => ({ id: `id_${ref}`, type, ref });

function job(outcome: MapOutcome) {
  if (outcome.kind !== 'job') throw new Error(`expected a job, got nothing: ${outcome.reason}`);
  expect(PatchJobSchema.safeParse(outcome.job).success).toBe(true);
  return outcome.job;
}

describe('mapTypeformResponse with the default mapping', () => {
  it('maps the full fixture: contact fields, typed custom fields, contact id', () => {
    const outcome = mapTypeformResponse(fixtureResponse(), context);
    expect(job(outcome)).toEqual({
      version: 1,
      jobId: 'typeform:lT4Z3j:a3a12ec67a1365927098a606107fac15',
      source: 'typeform',
      contactId: '123',
      match: { email: 'zoe.obrien@example.com', phone: '+14155550123' },
      patch: {
        firstName: 'Zoë',
        lastName: "Ó'Brien-Łukasz",
        email: 'zoe.obrien@example.com',
        phone: '+14155550123',
        dateOfBirth: '1990-05-01',
        customField: {
          household_size: 4,
          newsletter: false,
          plan: 'Pro',
          interests: 'Cooking, Hiking, Chess',
          website: 'https://zoe.example.com',
          cv: 'https://api.typeform.com/forms/lT4Z3j/responses/a3a12ec67a1365927098a606107fac15/fields/Cv1vT6bN/files/cv.pdf',
          move_in: '2027-01-15',
          about: 'Loves   long\n walks',
          referral: 'A podcast',
        },
      },
      occurredAt: '2026-11-26T10:00:00Z',
    });
    expect(outcome.dropped).toEqual([
      { field: 'deposit', reason: 'payment answers are not copied' },
      { field: 'intro_video', reason: 'multi_format answers are not copied' },
      { field: 'consent_signature', reason: 'signature answers are not copied' },
    ]);
  });

  it('passes the backfill source through and keeps the same jobId', () => {
    const webhookJob = job(mapTypeformResponse(fixtureResponse(), context));
    const backfillJob = job(
      mapTypeformResponse(fixtureResponse(), { ...context, source: 'backfill:typeform' }),
    );
    expect(backfillJob.source).toBe('backfill:typeform');
    expect(backfillJob.jobId).toBe(webhookJob.jobId);
    expect(backfillJob.patch).toEqual(webhookJob.patch);
  });

  it('maps a Responses API item to the same job as the webhook of the same response', () => {
    const page = loadFixture<{ items: Record<string, unknown>[] }>('typeform/responses-api-page.json');
    const item = FormResponseSchema.parse({ form_id: 'lT4Z3j', ...page.items[0] });
    const trimmed = response({
      token: 'a3a12ec67a1365927098a606107fac15',
      hidden: { contact_id: '123' },
      answers: [
        { type: 'email', email: 'zoe.obrien@example.com', field: field('email', 'email') },
        {
          type: 'choice',
          choice: { id: 'c1', label: 'Pro', ref: 'plan-pro' },
          field: field('plan', 'multiple_choice'),
        },
        {
          type: 'choices',
          choices: { ids: ['i1', 'i2'], labels: ['Cooking', 'Hiking'], refs: ['cooking', 'hiking'] },
          field: field('interests', 'multiple_choice'),
        },
      ],
    });
    expect(job(mapTypeformResponse(item, context))).toEqual(job(mapTypeformResponse(trimmed, context)));
  });

  it('converts submitted_at with an offset to a UTC occurredAt', () => {
    const mapped = job(
      mapTypeformResponse(
        response({
          submitted_at: '2026-11-26T10:00:00.123+02:00',
          answers: [{ type: 'email', email: 'a@b.co', field: field('email', 'email') }],
        }),
        context,
      ),
    );
    expect(mapped.occurredAt).toBe('2026-11-26T08:00:00Z');
  });

  it.each([
    ['text', { text: 'hello' }, 'hello'],
    ['number', { number: 3.5 }, 3.5],
    ['boolean', { boolean: true }, true],
    ['date (plain)', { date: '2026-01-02' }, '2026-01-02'],
    ['date (timestamp)', { date: '2026-01-02T23:00:00-08:00' }, '2026-01-02'],
    ['url', { url: 'https://x.example' }, 'https://x.example'],
    ['file_url', { file_url: 'https://files.example/a.pdf' }, 'https://files.example/a.pdf'],
    ['choice (new)', { choice: { id: 'c', label: 'Gold', ref: 'gold' } }, 'Gold'],
    ['choice (old)', { choice: { label: 'Silver' } }, 'Silver'],
    ['choice (other)', { choice: { other: 'Bronze-ish' } }, 'Bronze-ish'],
    ['choices (new)', { choices: { ids: ['a', 'b'], labels: ['A', 'B'], refs: ['a', 'b'] } }, 'A, B'],
    ['choices (old)', { choices: { labels: ['Only'] } }, 'Only'],
    ['choices (other only)', { choices: { ids: [], labels: [], other: 'Mine' } }, 'Mine'],
  ])('copies a %s answer into customField keeping its type', (label, value, expected) => {
    const type = label.split(' ')[0] as string;
    const mapped = job(
      mapTypeformResponse(
        response({
          hidden: { contact_id: '9' },
          answers: [{ type, ...value, field: field('extra', type) }],
        }),
        context,
      ),
    );
    expect(mapped.patch.customField).toEqual({ extra: expected });
  });

  it.each([
    [
      'payment',
      { payment: { amount: '10.00', last4: '4242', name: 'A', success: true } },
      'payment answers are not copied',
    ],
    ['multi_format', { multi_format: { audio_url: 'https://a' } }, 'multi_format answers are not copied'],
    ['signature', { signature: 'https://s' }, 'signature answers are not copied'],
    ['date', { date: 'tomorrow' }, 'not a date (YYYY-MM-DD)'],
    ['email', { email: 'not-an-email' }, 'not a valid email address'],
    ['text', { text: '   ' }, 'empty value'],
    ['choice', { choice: {} }, 'empty value'],
  ])('drops a %s answer it cannot copy, by name', (type, value, reason) => {
    const outcome = mapTypeformResponse(
      response({
        hidden: { contact_id: '9' },
        answers: [
          { type, ...value, field: field('bad', type) },
          { type: 'text', text: 'kept', field: field('good') },
        ],
      }),
      context,
    );
    expect(job(outcome).patch.customField).toEqual({ good: 'kept' });
    // The second email answer is taken as the contact email by the fallback; report is by name only.
    expect(outcome.dropped).toContainEqual({ field: 'bad', reason });
    expect(JSON.stringify(outcome.dropped)).not.toContain('not-an-email');
  });

  it('takes the first email and phone answers when no ref maps them', () => {
    const mapped = job(
      mapTypeformResponse(
        response({
          answers: [
            { type: 'text', text: 'Sam', field: field('nickname') },
            { type: 'email', email: 'First@Example.com', field: field('contact_mail', 'email') },
            { type: 'email', email: 'second@example.com', field: field('backup_mail', 'email') },
            { type: 'phone_number', phone_number: '+447911123456', field: field('mobile', 'phone_number') },
            { type: 'phone_number', phone_number: '(213) 373-4253', field: field('office', 'phone_number') },
          ],
        }),
        context,
      ),
    );
    expect(mapped.match).toEqual({ email: 'first@example.com', phone: '+447911123456' });
    expect(mapped.patch).toEqual({
      email: 'first@example.com',
      phone: '+447911123456',
      // Later email / phone answers are custom fields, normalised like the contact's own.
      customField: { nickname: 'Sam', backup_mail: 'second@example.com', office: '+12133734253' },
    });
  });

  it('prefers the email ref over an earlier email answer', () => {
    const mapped = job(
      mapTypeformResponse(
        response({
          answers: [
            { type: 'email', email: 'other@example.com', field: field('referrer_mail', 'email') },
            { type: 'email', email: 'me@example.com', field: field('email', 'email') },
          ],
        }),
        context,
      ),
    );
    expect(mapped.patch.email).toBe('me@example.com');
    expect(mapped.patch.customField).toEqual({ referrer_mail: 'other@example.com' });
  });

  it('reads a phone without country code in the default region', () => {
    const answers = [
      { type: 'phone_number', phone_number: '07911 123456', field: field('phone', 'phone_number') },
    ];
    expect(
      job(mapTypeformResponse(response({ answers }), { ...context, defaultPhoneRegion: 'GB' })).patch.phone,
    ).toBe('+447911123456');
    const outcome = mapTypeformResponse(response({ answers }), context);
    expect(outcome).toEqual({
      kind: 'nothing',
      reason: 'no answer maps to a contact field',
      dropped: [{ field: 'phone', reason: 'not a valid phone number' }],
    });
  });

  it('keeps the rest of the patch when one contact field cannot be normalised', () => {
    const outcome = mapTypeformResponse(
      response({
        answers: [
          { type: 'email', email: 'ok@example.com', field: field('email', 'email') },
          { type: 'date', date: '1990-02-30', field: field('date_of_birth', 'date') },
          { type: 'text', text: 'Ada', field: field('first_name') },
        ],
      }),
      context,
    );
    expect(job(outcome).patch).toEqual({ firstName: 'Ada', email: 'ok@example.com' });
    expect(outcome.dropped).toEqual([{ field: 'date_of_birth', reason: 'not a date (YYYY-MM-DD)' }]);
  });

  it('maps by field id when the answer has no ref', () => {
    const config = parseMappingConfig(
      { typeform: { defaults: { fieldMap: { Fs1kJ6rD: 'firstName' } } } },
      't',
    );
    const mapped = job(
      mapTypeformResponse(
        response({
          hidden: { contact_id: '5' },
          answers: [
            { type: 'text', text: 'Ada', field: { id: 'Fs1kJ6rD', type: 'short_text' } },
            { type: 'text', text: 'x', field: { id: 'NoRef1' } },
          ],
        }),
        { ...context, config },
      ),
    );
    expect(mapped.patch).toEqual({ firstName: 'Ada', customField: { NoRef1: 'x' } });
  });

  it('reports an unsupported answer type by its ref and maps the rest', () => {
    const outcome = mapTypeformResponse(
      response({
        answers: [
          { type: 'hologram', hologram: 1, field: field('hol') },
          { type: 'email', email: 'a@b.co', field: field('email', 'email') },
        ],
      }),
      context,
    );
    expect(job(outcome).patch).toEqual({ email: 'a@b.co' });
    expect(outcome.dropped).toEqual([{ field: 'hol', reason: 'unsupported answer type hologram' }]);
  });
});

describe('mapTypeformResponse contact resolution', () => {
  const answers = [{ type: 'text', text: 'Ada', field: field('first_name') }];

  it('uses a positive-integer hidden contact_id', () => {
    const mapped = job(mapTypeformResponse(response({ hidden: { contact_id: ' 42 ' }, answers }), context));
    expect(mapped.contactId).toBe('42');
    expect(mapped).not.toHaveProperty('match');
  });

  it('accepts a numeric hidden contact_id', () => {
    expect(
      job(mapTypeformResponse(response({ hidden: { contact_id: 42 }, answers }), context)).contactId,
    ).toBe('42');
  });

  it.each([['abc'], ['0'], ['-3'], ['4.5'], ['{{contact_id}}'], [true], [{ id: 1 }]])(
    'drops a hidden contact_id of %s with a reason',
    (value) => {
      const outcome = mapTypeformResponse(
        response({
          hidden: { contact_id: value },
          answers: [...answers, { type: 'email', email: 'a@b.co', field: field('email', 'email') }],
        }),
        context,
      );
      const mapped = job(outcome);
      expect(mapped).not.toHaveProperty('contactId');
      expect(mapped.match).toEqual({ email: 'a@b.co' });
      expect(outcome.dropped).toEqual([
        { field: 'hidden.contact_id', reason: 'not a positive integer contact id' },
      ]);
    },
  );

  it.each([[''], ['   '], [null]])('ignores an empty hidden contact_id (%j) silently', (value) => {
    const outcome = mapTypeformResponse(response({ hidden: { contact_id: value }, answers }), context);
    expect(outcome).toEqual({
      kind: 'nothing',
      reason: 'no contact id, email or phone to find the contact by',
      dropped: [],
    });
  });

  it('says nothing to update when there is no contact id, email or phone', () => {
    const outcome = mapTypeformResponse(response({ answers }), context);
    expect(outcome.kind).toBe('nothing');
  });

  it('says nothing to update when a known contact answered nothing mappable', () => {
    const outcome = mapTypeformResponse(response({ hidden: { contact_id: '42' }, answers: [] }), context);
    expect(outcome).toEqual({ kind: 'nothing', reason: 'no answer maps to a contact field', dropped: [] });
  });
});

describe('mapTypeformResponse with per-form configuration', () => {
  const config = parseMappingConfig(
    {
      typeform: {
        defaults: { hiddenFieldsToCustomField: ['utm_campaign'], contactSource: 'Typeform' },
        forms: {
          lT4Z3j: {
            fieldMap: { given_name: 'firstName', notes: 'clearTalkNotes', internal: 'skip' },
            contactIdHiddenField: 'cid',
            listName: 'Leads',
            tag: 'lead',
          },
          Quiet1: { copyUnmappedAnswers: false },
          Gone99: { ignored: true },
        },
      },
    },
    'test',
  );

  it('applies the form override: refs, contact id field, labels, hidden copies, skip', () => {
    const outcome = mapTypeformResponse(
      response({
        hidden: { cid: '77', contact_id: '1', utm_campaign: 'bf', utm_source: 'x' },
        answers: [
          { type: 'text', text: '  Grace  ', field: field('given_name') },
          { type: 'text', text: 'Prefers mail', field: field('notes', 'long_text') },
          { type: 'number', number: 99, field: field('internal', 'number') },
          { type: 'boolean', boolean: true, field: field('vip', 'yes_no') },
        ],
      }),
      { ...context, config },
    );
    expect(job(outcome)).toMatchObject({
      contactId: '77',
      patch: {
        firstName: 'Grace',
        clearTalkNotes: 'Prefers mail',
        listName: 'Leads',
        tag: 'lead',
        contactSource: 'Typeform',
        customField: { vip: true, utm_campaign: 'bf' },
      },
    });
    expect(outcome.dropped).toEqual([]);
  });

  it('leaves unmapped answers out when copyUnmappedAnswers is off', () => {
    const mapped = job(
      mapTypeformResponse(
        response({
          form_id: 'Quiet1',
          answers: [
            { type: 'email', email: 'a@b.co', field: field('email', 'email') },
            { type: 'text', text: 'x', field: field('other') },
          ],
        }),
        { ...context, config },
      ),
    );
    expect(mapped.patch).toEqual({ email: 'a@b.co', contactSource: 'Typeform' });
  });

  it('maps nothing for an ignored form', () => {
    const outcome = mapTypeformResponse(
      response({
        form_id: 'Gone99',
        answers: [{ type: 'email', email: 'a@b.co', field: field('email', 'email') }],
      }),
      { ...context, config },
    );
    expect(outcome).toEqual({
      kind: 'nothing',
      reason: 'form Gone99 is ignored by the mapping configuration',
      dropped: [],
    });
  });

  it('does not make a job of labels alone', () => {
    const outcome = mapTypeformResponse(response({ hidden: { cid: '77' }, answers: [] }), {
      ...context,
      config,
    });
    expect(outcome.kind).toBe('nothing');
  });

  it('lets an answer mapped to a label field win over the configured label', () => {
    const outcome = mapTypeformResponse(
      response({
        hidden: { cid: '77' },
        answers: [
          { type: 'choice', choice: { label: 'wholesale' }, field: field('segment', 'multiple_choice') },
        ],
      }),
      {
        ...context,
        config: parseMappingConfig(
          {
            typeform: {
              forms: { lT4Z3j: { fieldMap: { segment: 'tag' }, contactIdHiddenField: 'cid', tag: 'lead' } },
            },
          },
          't',
        ),
      },
    );
    expect(job(outcome).patch).toMatchObject({ tag: 'wholesale' });
  });

  it('writes a boolean or number answer mapped to a contact field as its text', () => {
    const notes = parseMappingConfig(
      { typeform: { defaults: { fieldMap: { vip: 'clearTalkNotes', age: 'lastName' } } } },
      't',
    );
    for (const [value, text] of [
      [true, 'true'],
      [false, 'false'],
    ] as const) {
      const outcome = mapTypeformResponse(
        response({
          hidden: { contact_id: '3' },
          answers: [
            { type: 'boolean', boolean: value, field: field('vip', 'yes_no') },
            { type: 'number', number: 42.5, field: field('age', 'number') },
          ],
        }),
        { ...context, config: notes },
      );
      expect(job(outcome).patch).toEqual({ clearTalkNotes: text, lastName: '42.5' });
    }
  });

  it('looks a field up by its ref before its id', () => {
    const both = parseMappingConfig(
      { typeform: { defaults: { fieldMap: { a: 'firstName', id_a: 'lastName' } } } },
      't',
    );
    const outcome = mapTypeformResponse(
      response({ hidden: { contact_id: '3' }, answers: [{ type: 'text', text: 'Ada', field: field('a') }] }),
      { ...context, config: both },
    );
    expect(job(outcome).patch).toEqual({ firstName: 'Ada' });
  });

  it('copies no hidden field the link left empty', () => {
    const outcome = mapTypeformResponse(
      response({
        hidden: { cid: '77', utm_campaign: '' },
        answers: [{ type: 'text', text: 'x', field: field('q') }],
      }),
      { ...context, config },
    );
    expect(job(outcome).patch.customField).toEqual({ q: 'x' });
    expect(outcome.dropped).toEqual([]);
  });

  it('keeps an answer over a copied hidden field of the same name, and reports the hidden one', () => {
    const outcome = mapTypeformResponse(
      response({
        hidden: { cid: '77', utm_campaign: 'from-link' },
        answers: [{ type: 'text', text: 'from-answer', field: field('utm_campaign') }],
      }),
      { ...context, config },
    );
    expect(job(outcome).patch.customField).toEqual({ utm_campaign: 'from-answer' });
    expect(outcome.dropped).toEqual([
      { field: 'hidden.utm_campaign', reason: 'an answer already fills this custom field' },
    ]);
  });

  it('makes a job of a jobId of exactly 1,024 characters and nothing of a longer one', () => {
    const answers = [{ type: 'email', email: 'a@b.co', field: field('email', 'email') }];
    const prefix = 'typeform:lT4Z3j:'.length;
    const at = (length: number) =>
      mapTypeformResponse(response({ token: 't'.repeat(length - prefix), answers }), context);
    expect(job(at(1024)).jobId).toHaveLength(1024);
    expect(at(1025).kind).toBe('nothing');
  });

  it('keeps the first of two answers mapped to the same contact field', () => {
    const twoNames = parseMappingConfig(
      { typeform: { defaults: { fieldMap: { a: 'firstName', b: 'firstName' } } } },
      't',
    );
    const outcome = mapTypeformResponse(
      response({
        hidden: { contact_id: '3' },
        answers: [
          { type: 'text', text: 'One', field: field('a') },
          { type: 'text', text: 'Two', field: field('b') },
        ],
      }),
      { ...context, config: twoNames },
    );
    expect(job(outcome).patch).toEqual({ firstName: 'One' });
    expect(outcome.dropped).toEqual([{ field: 'b', reason: 'firstName is already set by another answer' }]);
  });
});
