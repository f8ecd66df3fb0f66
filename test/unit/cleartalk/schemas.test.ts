import { describe, expect, it } from 'vitest';
import { ContactIdSchema, ContactPatchSchema, ContactSchema } from '../../../lib/cleartalk/schemas.js';
import { buildContact } from '../../helpers/contact.js';

const contact = buildContact({
  id: 7,
  firstName: 'Ada',
  customField: { plan: 'pro' },
  createdAt: '2026-11-27T10:00:00.000Z',
  updatedAt: '2026-11-27T10:00:00+01:00',
});

describe('ContactPatchSchema', () => {
  it('accepts any subset of the documented fields with a flat customField', () => {
    expect(ContactPatchSchema.safeParse({ firstName: 'Ada' }).success).toBe(true);
    expect(
      ContactPatchSchema.safeParse({
        email: 'a@b.co',
        customField: { plan: 'pro', seats: 3, vip: true, gone: null },
      }).success,
    ).toBe(true);
  });

  it('rejects an unknown key', () => {
    expect(ContactPatchSchema.safeParse({ firstName: 'Ada', nickname: 'A' }).success).toBe(false);
  });

  it('rejects a wrong type', () => {
    expect(ContactPatchSchema.safeParse({ phone: 15551234567 }).success).toBe(false);
    expect(ContactPatchSchema.safeParse({ customField: { nested: { a: 1 } } }).success).toBe(false);
    expect(ContactPatchSchema.safeParse({ customField: ['a'] }).success).toBe(false);
  });

  it('rejects an empty patch', () => {
    expect(ContactPatchSchema.safeParse({}).success).toBe(false);
    expect(ContactPatchSchema.safeParse({ firstName: undefined }).success).toBe(false);
  });
});

describe('ContactSchema', () => {
  it('accepts the whole contact with null for unset fields', () => {
    expect(ContactSchema.parse(contact)).toEqual(contact);
  });

  it('rejects a contact missing a documented field or with a string id', () => {
    const { email: _email, ...withoutEmail } = contact;
    expect(ContactSchema.safeParse(withoutEmail).success).toBe(false);
    expect(ContactSchema.safeParse({ ...contact, id: '7' }).success).toBe(false);
  });
});

describe('ContactIdSchema', () => {
  it('accepts positive integer strings only', () => {
    expect(['1', '42', '9007199254740993'].map((id) => ContactIdSchema.safeParse(id).success)).toEqual([
      true,
      true,
      true,
    ]);
    expect(
      ['0', '-1', '01', '1.5', 'abc', '', ' 1', '1/../2'].some((id) => ContactIdSchema.safeParse(id).success),
    ).toBe(false);
  });
});
