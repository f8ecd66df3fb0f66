import * as z from '../zod.js';

/**
 * Schemas written from the ClearTalk API reference (PLATFORMS.md): `PATCH /contacts/{id}`,
 * `GET /contacts/{id}`, `POST /contacts`.
 */

/** A custom-field value: the reference gives `customField` as an object; we keep it flat. */
export const CustomFieldValueSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type CustomFieldValue = z.infer<typeof CustomFieldValueSchema>;

export const CustomFieldSchema = z.record(z.string().check(z.minLength(1)), CustomFieldValueSchema);
export type CustomField = z.infer<typeof CustomFieldSchema>;

export {
  CONTACT_FIELDS,
  CONTACT_STRING_FIELDS,
  type ContactField,
  ContactIdSchema,
  type ContactStringField,
  isContactId,
} from './contact-fields.js';

const contactPatchShape = {
  listName: z.optional(z.string()),
  tag: z.optional(z.string()),
  firstName: z.optional(z.string()),
  lastName: z.optional(z.string()),
  email: z.optional(z.string()),
  phone: z.optional(z.string()),
  dateOfBirth: z.optional(z.string()),
  contactSource: z.optional(z.string()),
  clearTalkNotes: z.optional(z.string()),
  customField: z.optional(CustomFieldSchema),
};

/** The body of `PATCH /contacts/{id}`: every field optional, at least one present, no unknown keys. */
export const ContactPatchSchema = z.strictObject(contactPatchShape).check(
  z.refine((patch) => Object.values(patch).some((value) => value !== undefined), {
    message: 'a patch needs at least one field',
  }),
);
export type ContactPatch = z.infer<typeof ContactPatchSchema>;

/** The body of `POST /contacts` (the reference marks every field required; we send what we have). */
export const ContactCreateSchema = ContactPatchSchema;
export type ContactCreate = ContactPatch;

const nullableString = z.nullable(z.string());

/**
 * The contact the API returns. The reference lists every field as present; values may be null
 * for fields never set, so null is accepted. Unknown fields the API adds later are kept.
 */
export const ContactSchema = z.looseObject({
  id: z.number().check(z.int()),
  userId: z.number().check(z.int()),
  listName: nullableString,
  tag: nullableString,
  firstName: nullableString,
  lastName: nullableString,
  email: nullableString,
  phone: nullableString,
  dateOfBirth: nullableString,
  contactSource: nullableString,
  clearTalkNotes: nullableString,
  customField: z.nullable(z.record(z.string(), z.unknown())),
  createdAt: z.iso.datetime({ offset: true }),
  updatedAt: z.iso.datetime({ offset: true }),
});
export type Contact = z.infer<typeof ContactSchema>;
