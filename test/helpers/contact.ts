import type { Contact } from '../../lib/cleartalk/schemas.js';

/**
 * A ClearTalk Contact as the API returns it: every documented field, unset ones null; overrides
 * for what the test cares about. A fresh deep copy every call, so a test may mutate it.
 */
export function buildContact(overrides: Partial<Contact> = {}): Contact {
  return structuredClone({
    id: 1,
    userId: 1,
    listName: null,
    tag: null,
    firstName: null,
    lastName: null,
    email: null,
    phone: null,
    dateOfBirth: null,
    contactSource: null,
    clearTalkNotes: null,
    customField: null,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    ...overrides,
  });
}
