import { describe, expect, it } from 'vitest';
import { FormResponseSchema, TypeformWebhookSchema } from '../../../../lib/sources/typeform/schema.js';
import { loadFixture } from '../load-fixture.js';

type Json = Record<string, unknown>;

function webhook(): Json & { form_response: Json & { answers: Json[] } } {
  return loadFixture('typeform/form-response.json');
}

describe('TypeformWebhookSchema', () => {
  it('parses a webhook carrying every answer type', () => {
    const parsed = TypeformWebhookSchema.parse(webhook());
    const types = parsed.form_response.answers.map((answer) => answer.type);
    expect(new Set(types)).toEqual(
      new Set([
        'text',
        'email',
        'phone_number',
        'date',
        'number',
        'boolean',
        'choice',
        'choices',
        'url',
        'file_url',
        'payment',
        'multi_format',
        'signature',
      ]),
    );
    expect(parsed.form_response.token).toBe('a3a12ec67a1365927098a606107fac15');
    expect(parsed.form_response.hidden.contact_id).toBe('123');
  });

  it('keeps fields Typeform adds later', () => {
    const body = webhook();
    body.brand_new = { nested: true };
    body.form_response.brand_new_field = 1;
    const parsed = TypeformWebhookSchema.parse(body);
    expect(parsed).toHaveProperty('brand_new');
    expect(parsed.form_response).toHaveProperty('brand_new_field', 1);
  });

  it('rejects a body without form_response, event_id or form_id', () => {
    expect(TypeformWebhookSchema.safeParse({ event_id: 'e', event_type: 'form_response' }).success).toBe(
      false,
    );
    const noEvent = webhook();
    delete noEvent.event_id;
    expect(TypeformWebhookSchema.safeParse(noEvent).success).toBe(false);
    const noForm = webhook();
    delete noForm.form_response.form_id;
    expect(TypeformWebhookSchema.safeParse(noForm).success).toBe(false);
  });

  it('rejects a response without token or submission time', () => {
    const noToken = webhook();
    delete noToken.form_response.token;
    const tokenIssue = TypeformWebhookSchema.safeParse(noToken);
    expect(tokenIssue.error?.issues.map((issue) => issue.path.join('.'))).toContain('form_response.token');
    const noTime = webhook();
    delete noTime.form_response.submitted_at;
    delete noTime.form_response.landed_at;
    expect(TypeformWebhookSchema.safeParse(noTime).success).toBe(false);
  });
});

describe('FormResponseSchema answers', () => {
  const base = { form_id: 'abc', token: 't', submitted_at: '2026-11-26T10:00:00Z' };

  it('skips an unknown answer type instead of failing the response', () => {
    const parsed = FormResponseSchema.parse({
      ...base,
      answers: [
        { type: 'hologram', hologram: { x: 1 }, field: { id: 'f1', ref: 'holo' } },
        { type: 'text', text: 'hi', field: { id: 'f2', ref: 'greeting' } },
      ],
    });
    expect(parsed.answers).toEqual([
      {
        type: 'skipped',
        answerType: 'hologram',
        field: { id: 'f1', ref: 'holo' },
        reason: 'unsupported answer type hologram',
      },
      { type: 'text', text: 'hi', field: { id: 'f2', ref: 'greeting' } },
    ]);
  });

  it('marks a known answer type with a malformed value as skipped', () => {
    const parsed = FormResponseSchema.parse({
      ...base,
      answers: [{ type: 'number', number: 'seven', field: { id: 'f1', ref: 'n' } }],
    });
    expect(parsed.answers[0]).toMatchObject({ type: 'skipped', reason: 'malformed number answer' });
  });

  it('accepts old and new choice and choices shapes', () => {
    const parsed = FormResponseSchema.parse({
      ...base,
      answers: [
        { type: 'choice', choice: { id: 'c', label: 'New', ref: 'r' }, field: { id: '1', ref: 'a' } },
        { type: 'choice', choice: { label: 'Old' }, field: { id: '2', ref: 'b' } },
        { type: 'choice', choice: { other: 'Typed' }, field: { id: '3', ref: 'c' } },
        {
          type: 'choices',
          choices: { ids: ['x'], labels: ['New'], refs: ['y'], other: 'More' },
          field: { id: '4' },
        },
        { type: 'choices', choices: { labels: ['Old'] }, field: { id: '5', ref: 'e' } },
      ],
    });
    expect(parsed.answers.map((answer) => answer.type)).toEqual([
      'choice',
      'choice',
      'choice',
      'choices',
      'choices',
    ]);
  });

  it('rejects an answer without a field id (it cannot be reported or keyed)', () => {
    expect(
      FormResponseSchema.safeParse({ ...base, answers: [{ type: 'text', text: 'x', field: {} }] }).success,
    ).toBe(false);
  });

  it('accepts a Responses API item with response_id, null answers and no definition', () => {
    const page = loadFixture<{ items: Json[] }>('typeform/responses-api-page.json');
    const [first, second] = page.items.map((item) =>
      FormResponseSchema.parse({ form_id: 'lT4Z3j', ...item }),
    );
    expect(first?.token).toBe('a3a12ec67a1365927098a606107fac15');
    expect(first?.answers).toHaveLength(3);
    expect(second?.token).toBe('b7c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5');
    expect(second?.answers).toEqual([]);
    expect(second?.hidden).toEqual({});
  });
});
