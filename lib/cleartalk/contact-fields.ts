import * as z from '../zod.js';

/*
 * The contact field names and the contact id format, apart from the body schemas in schemas.ts
 * (which re-exports them): the webhook and backfill functions need only these, and importing
 * schemas.ts would build the contact and patch schemas at every cold start for nothing.
 */

/** The string fields of a contact that `PATCH /contacts/{id}` accepts, in reference order. */
export const CONTACT_STRING_FIELDS = [
  'listName',
  'tag',
  'firstName',
  'lastName',
  'email',
  'phone',
  'dateOfBirth',
  'contactSource',
  'clearTalkNotes',
] as const;
export type ContactStringField = (typeof CONTACT_STRING_FIELDS)[number];

/** Every field a patch may carry. */
export const CONTACT_FIELDS = [...CONTACT_STRING_FIELDS, 'customField'] as const;
export type ContactField = (typeof CONTACT_FIELDS)[number];

const CONTACT_ID = /^[1-9][0-9]{0,18}$/;

/** ClearTalk contact ids are positive integers; we carry them as decimal strings. */
export const ContactIdSchema = z.string().check(z.regex(CONTACT_ID, 'a contact id is a positive integer'));

/** The check of {@link ContactIdSchema} without building a parse result: for per-request paths. */
export function isContactId(value: string): boolean {
  return CONTACT_ID.test(value);
}
