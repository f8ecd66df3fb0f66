import { type ContactStringField, isContactId } from '../../cleartalk/contact-fields.js';
import type { CustomFieldValue } from '../../cleartalk/schemas.js';
import { type FieldTarget, lookupTypeformFormSettings, type MappingConfig } from '../mapping-config.js';
import { normaliseDate, normaliseEmail, normaliseName, normalisePhone, toUtcInstant } from '../normalise.js';
import type { MapOutcome } from '../outcome.js';
import { applyLabels, finishJob, type JobDraft, nothing } from '../patch-builder.js';
import type { Answer, FormResponse, KnownAnswer } from './schema.js';

/** What the Typeform mapper needs besides the response. */
export interface TypeformMapContext {
  config: MappingConfig;
  /** Region for phone numbers written without a country code (DEFAULT_PHONE_REGION). */
  defaultPhoneRegion: string;
  /** The PatchJob source. @default 'typeform' (the backfill passes 'backfill:typeform') */
  source?: string;
}

type Converted = { value: CustomFieldValue } | { reason: string };

/** The name an answer is reported and keyed by: its ref, else its field id (never its title). */
function answerKey(answer: Answer): string {
  return answer.field.ref ?? answer.field.id;
}

/** The answer as text, for a contact string field; `undefined` for types that have no text form. */
function answerText(answer: KnownAnswer): string | undefined {
  switch (answer.type) {
    case 'text':
      return answer.text;
    case 'email':
      return answer.email;
    case 'phone_number':
      return answer.phone_number;
    case 'date':
      return answer.date;
    case 'url':
      return answer.url;
    case 'file_url':
      return answer.file_url;
    case 'number':
      return String(answer.number);
    case 'boolean':
      return answer.boolean ? 'true' : 'false';
    case 'choice':
      return answer.choice.label ?? answer.choice.other;
    case 'choices':
      return choiceLabels(answer);
    default:
      return undefined;
  }
}

function choiceLabels(answer: Extract<KnownAnswer, { type: 'choices' }>): string | undefined {
  const labels = [...(answer.choices.labels ?? [])];
  if (answer.choices.other !== undefined && answer.choices.other.trim() !== '')
    labels.push(answer.choices.other);
  const cleaned = labels.map((label) => label.trim()).filter((label) => label !== '');
  return cleaned.length > 0 ? cleaned.join(', ') : undefined;
}

/** Converts an answer for a named contact field, normalising emails, phones, dates and names. */
function toContactValue(target: ContactStringField, answer: KnownAnswer, region: string): Converted {
  const text = answerText(answer);
  if (text === undefined) return { reason: `a ${answer.type} answer cannot fill ${target}` };
  if (text.trim() === '') return { reason: 'empty value' };
  let value: string | undefined;
  switch (target) {
    case 'email':
      value = normaliseEmail(text);
      return value === undefined ? { reason: 'not a valid email address' } : { value };
    case 'phone':
      value = normalisePhone(text, region);
      return value === undefined ? { reason: 'not a valid phone number' } : { value };
    case 'dateOfBirth':
      value = normaliseDate(text);
      return value === undefined ? { reason: 'not a date (YYYY-MM-DD)' } : { value };
    default:
      value = normaliseName(text);
      return value === undefined ? { reason: 'empty value' } : { value };
  }
}

/**
 * Converts an answer into a `customField` scalar keeping its type: text -> string, number ->
 * number, boolean -> boolean, choice -> label (or the `other` text), choices -> labels joined by
 * ", ", date -> YYYY-MM-DD. Payments are not copied: the amount has no currency and card data
 * does not belong in a CRM; multi_format and signature answers are media, not values.
 */
function toCustomValue(answer: KnownAnswer, region: string): Converted {
  switch (answer.type) {
    case 'number':
      return Number.isFinite(answer.number) ? { value: answer.number } : { reason: 'not a finite number' };
    case 'boolean':
      return { value: answer.boolean };
    case 'email': {
      const email = normaliseEmail(answer.email);
      return email === undefined ? { reason: 'not a valid email address' } : { value: email };
    }
    case 'phone_number': {
      const phone = normalisePhone(answer.phone_number, region);
      return phone === undefined ? { reason: 'not a valid phone number' } : { value: phone };
    }
    case 'date': {
      const date = normaliseDate(answer.date);
      return date === undefined ? { reason: 'not a date (YYYY-MM-DD)' } : { value: date };
    }
    case 'payment':
      return { reason: 'payment answers are not copied' };
    case 'multi_format':
    case 'signature':
      return { reason: `${answer.type} answers are not copied` };
    default: {
      const text = answerText(answer)?.trim();
      return text === undefined || text === '' ? { reason: 'empty value' } : { value: text };
    }
  }
}

function lookupTarget(fieldMap: Record<string, FieldTarget>, answer: Answer): FieldTarget | undefined {
  const { ref, id } = answer.field;
  if (ref !== undefined && Object.hasOwn(fieldMap, ref)) return fieldMap[ref];
  if (Object.hasOwn(fieldMap, id)) return fieldMap[id];
  return undefined;
}

/**
 * Maps one Typeform response (webhook `form_response` or Responses API item) to a PatchJob:
 * jobId `typeform:<form_id>:<token>`, occurredAt = `submitted_at` as a UTC instant, contactId
 * from the configured hidden field, otherwise match by email/phone. Pure; never throws on
 * schema-valid input.
 */
export function mapTypeformResponse(response: FormResponse, context: TypeformMapContext): MapOutcome {
  const settings = lookupTypeformFormSettings(context.config, response.form_id);
  const region = context.defaultPhoneRegion;
  if (settings.ignored)
    return nothing(`form ${response.form_id} is ignored by the mapping configuration`, []);

  const occurredAt = toUtcInstant(response.submitted_at ?? response.landed_at ?? '');
  if (occurredAt === undefined) return nothing('the response has no usable submitted_at', []);

  const draft: JobDraft = {
    jobId: `typeform:${response.form_id}:${response.token}`,
    source: context.source || 'typeform',
    occurredAt,
    match: {},
    fields: {},
    customField: {},
    dropped: [],
  };
  const consumed = new Set<Answer>();

  // 1. Answers whose ref (or id) the field map names.
  for (const answer of response.answers) {
    if (answer.type === 'skipped') {
      consumed.add(answer);
      draft.dropped.push({ field: answerKey(answer), reason: answer.reason });
      continue;
    }
    const target = lookupTarget(settings.fieldMap, answer);
    if (target === undefined) continue;
    consumed.add(answer);
    if (target === 'skip') continue;
    if (draft.fields[target] !== undefined) {
      draft.dropped.push({ field: answerKey(answer), reason: `${target} is already set by another answer` });
      continue;
    }
    const converted = toContactValue(target, answer, region);
    if ('reason' in converted) draft.dropped.push({ field: answerKey(answer), reason: converted.reason });
    else draft.fields[target] = String(converted.value);
  }

  // 2. DESIGN.md default: the first email / phone_number answer when no ref filled the field.
  for (const [target, type] of [
    ['email', 'email'],
    ['phone', 'phone_number'],
  ] as const) {
    if (draft.fields[target] !== undefined) continue;
    const answer = response.answers.find((a) => a.type === type && !consumed.has(a));
    if (answer === undefined || answer.type === 'skipped') continue;
    consumed.add(answer);
    const converted = toContactValue(target, answer, region);
    if ('reason' in converted) draft.dropped.push({ field: answerKey(answer), reason: converted.reason });
    else draft.fields[target] = String(converted.value);
  }

  // 3. Every other answered field into customField[ref].
  if (settings.copyUnmappedAnswers) {
    for (const answer of response.answers) {
      if (consumed.has(answer) || answer.type === 'skipped') continue;
      const key = answerKey(answer);
      const converted = toCustomValue(answer, region);
      if ('reason' in converted) draft.dropped.push({ field: key, reason: converted.reason });
      else if (Object.hasOwn(draft.customField, key)) {
        draft.dropped.push({ field: key, reason: 'another answer has the same ref' });
      } else draft.customField[key] = converted.value;
    }
  }

  // 4. Hidden fields: the contact id, and the ones copied into customField.
  const hiddenContactId = response.hidden[settings.contactIdHiddenField];
  const contactIdText =
    typeof hiddenContactId === 'string' || typeof hiddenContactId === 'number'
      ? String(hiddenContactId).trim()
      : undefined;
  // Typeform sends a hidden field the link did not fill as an empty string: that is silence.
  const contactIdGiven = hiddenContactId !== undefined && hiddenContactId !== null && contactIdText !== '';
  if (contactIdGiven) {
    if (contactIdText !== undefined && isContactId(contactIdText)) {
      draft.contactId = contactIdText;
    } else {
      const field = `hidden.${settings.contactIdHiddenField}`;
      draft.dropped.push({ field, reason: 'not a positive integer contact id' });
    }
  }
  for (const name of settings.hiddenFieldsToCustomField) {
    const value = response.hidden[name];
    if (value === undefined || value === null || value === '') continue;
    if (
      typeof value !== 'string' &&
      typeof value !== 'boolean' &&
      !(typeof value === 'number' && Number.isFinite(value))
    ) {
      draft.dropped.push({ field: `hidden.${name}`, reason: 'not a scalar value' });
    } else if (Object.hasOwn(draft.customField, name)) {
      draft.dropped.push({ field: `hidden.${name}`, reason: 'an answer already fills this custom field' });
    } else draft.customField[name] = value;
  }

  draft.match.email = draft.fields.email;
  draft.match.phone = draft.fields.phone;
  // The configured labels (listName, tag, contactSource) alone are not a change the respondent
  // made; an answer the fieldMap sends to one of those fields is, so this is decided before them.
  const answered = Object.keys(draft.fields).length > 0 || Object.keys(draft.customField).length > 0;
  applyLabels(draft, settings);
  const outcome = finishJob(draft, 'no answer maps to a contact field');
  if (outcome.kind === 'job' && !answered) return nothing('no answer maps to a contact field', draft.dropped);
  return outcome;
}
