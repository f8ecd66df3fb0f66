import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { createCreationClaims } from '../../../lib/aws/creation-claims.js';
import {
  type CreationClaims,
  createLinkStore,
  createMemoryLinkStore,
  type LinkStore,
  REDACT_KEEP_SECONDS,
  shopifyCustomerKey,
} from '../../../lib/aws/links.js';
import { provisionStack } from '../../../tools/provision.js';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
let tableName = '';

beforeAll(async () => {
  ({ STATE_TABLE_NAME: tableName } = await provisionStack({ prefix: `links-${randomUUID().slice(0, 8)}` }));
});

function shop(): string {
  return `s${randomUUID().slice(0, 8)}.myshopify.com`;
}

const stores: Array<[string, () => LinkStore]> = [
  ['DynamoDB on moto', () => createLinkStore({ client, tableName })],
  ['memory', () => createMemoryLinkStore()],
];

describe.each(stores)('link store (%s)', (_name, makeStore) => {
  it('resolves by externalKey before email before phone', async () => {
    const store = makeStore();
    const id = randomUUID();
    const key = `shopify:${shop()}:customer:1`;
    await store.putLinks('10', { email: `${id}@example.com` });
    await store.putLinks('20', { phone: '+15550001111' });
    await store.putLinks('30', { externalKey: key });

    expect(await store.resolve({ externalKey: key, email: `${id}@example.com`, phone: '+15550001111' })).toBe(
      '30',
    );
    expect(await store.resolve({ externalKey: `${key}9`, email: `${id}@example.com` })).toBe('10');
    expect(await store.resolve({ email: `other-${id}@example.com`, phone: '+15550001111' })).toBe('20');
    expect(await store.resolve({ email: `nobody-${id}@example.com` })).toBeUndefined();
  });

  it('matches emails regardless of case and surrounding spaces', async () => {
    const store = makeStore();
    const id = randomUUID();
    await store.putLinks('41', { email: ` Ada.${id}@Example.COM ` });
    expect(await store.resolve({ email: `ada.${id}@example.com` })).toBe('41');
  });

  it('lets the latest link win', async () => {
    const store = makeStore();
    const key = `shopify:${shop()}:customer:7`;
    await store.putLinks('1', { externalKey: key });
    await store.putLinks('2', { externalKey: key });
    expect(await store.resolve({ externalKey: key })).toBe('2');
  });

  it('removes a customer with the email and phone links learned with it, and nothing else', async () => {
    const store = makeStore();
    const domain = shop();
    const id = randomUUID();
    await store.putLinks('5', {
      externalKey: shopifyCustomerKey(domain, '42'),
      email: `c-${id}@x.io`,
      phone: '+15550002222',
    });
    await store.putLinks('6', { externalKey: shopifyCustomerKey(domain, '43'), email: `d-${id}@x.io` });
    await store.putLinks('8', { email: `extra-${id}@x.io` });

    const removed = await store.removeCustomerLinks(domain, '42', { email: `extra-${id}@x.io` });

    expect(removed).toBe(4);
    expect(await store.resolve({ externalKey: shopifyCustomerKey(domain, '42') })).toBeUndefined();
    expect(await store.resolve({ email: `c-${id}@x.io` })).toBeUndefined();
    expect(await store.resolve({ phone: '+15550002222' })).toBeUndefined();
    expect(await store.resolve({ email: `extra-${id}@x.io` })).toBeUndefined();
    expect(await store.resolve({ externalKey: shopifyCustomerKey(domain, '43') })).toBe('6');
    expect(await store.resolve({ email: `d-${id}@x.io` })).toBe('6');
    expect(await store.removeCustomerLinks(domain, '42')).toBe(0);
  });

  it('removes every customer link of one shop (more than one batch) and leaves other shops alone', async () => {
    const store = makeStore();
    const domain = shop();
    const other = shop();
    const id = randomUUID();
    for (let i = 0; i < 30; i++) {
      await store.putLinks(String(100 + i), {
        externalKey: shopifyCustomerKey(domain, String(i)),
        email: `${i}-${id}@x.io`,
      });
    }
    await store.putLinks('999', { externalKey: shopifyCustomerKey(other, '1') });

    expect(await store.removeShopLinks(domain)).toBe(60);
    for (const i of [0, 17, 29]) {
      expect(await store.resolve({ externalKey: shopifyCustomerKey(domain, String(i)) })).toBeUndefined();
      expect(await store.resolve({ email: `${i}-${id}@x.io` })).toBeUndefined();
    }
    expect(await store.resolve({ externalKey: shopifyCustomerKey(other, '1') })).toBe('999');
    // Tombstones, not gaps: a change from before the removal does not link the shop's people again.
    expect((await store.lookup({ email: `17-${id}@x.io` })).redactedAt).toBeDefined();
    const before = '2020-01-01T00:00:00Z';
    expect(await store.putLinks('117', { email: `17-${id}@x.io` }, { occurredAt: before })).toBe(1);
    expect(await store.resolve({ email: `17-${id}@x.io` })).toBeUndefined();
    expect((await store.lookup({ externalKey: shopifyCustomerKey(other, '1') })).redactedAt).toBeUndefined();
  });
});

const clockedStores: Array<[string, (now: () => number) => LinkStore & CreationClaims]> = [
  [
    'DynamoDB on moto',
    (now) => ({
      ...createLinkStore({ client, tableName, now: () => new Date(now()) }),
      ...createCreationClaims({ client, tableName, now }),
    }),
  ],
  ['memory', (now) => createMemoryLinkStore({ now })],
];

describe.each(clockedStores)('creation claims (%s)', (_name, makeStore) => {
  const person = () => {
    const id = randomUUID();
    return {
      externalKey: shopifyCustomerKey(shop(), id.slice(0, 8)),
      email: `${id}@example.com`,
      phone: `+1555${String(Number.parseInt(id.slice(0, 6), 16) % 1e7).padStart(7, '0')}`,
    };
  };

  it('lets one owner claim a new person, refuses others while the claim lives, and is invisible to resolve', async () => {
    let t = 1_000_000;
    const store = makeStore(() => t);
    const match = person();
    expect(await store.claimCreation(match, { owner: 'a', untilMs: t + 10_000 })).toEqual({ claimed: true });
    // Claiming again as the same owner (a retried call) succeeds.
    expect(await store.claimCreation(match, { owner: 'a', untilMs: t + 10_000 })).toEqual({ claimed: true });
    // Any overlap is refused: here only the email is shared.
    expect(await store.claimCreation({ email: match.email }, { owner: 'b', untilMs: t + 10_000 })).toEqual({
      claimed: false,
    });
    expect(await store.resolve(match)).toBeUndefined();
    t += 10_001;
    // Expired (its job died): taken over.
    expect(await store.claimCreation({ email: match.email }, { owner: 'b', untilMs: t + 10_000 })).toEqual({
      claimed: true,
    });
  });

  it('answers with the contact id once the keys are linked, and links end the claim', async () => {
    const t = 2_000_000;
    const store = makeStore(() => t);
    const match = person();
    expect(await store.claimCreation(match, { owner: 'a', untilMs: t + 10_000 })).toEqual({ claimed: true });
    await store.putLinks('501', match);
    expect(await store.resolve({ phone: match.phone, email: match.email })).toBe('501');
    expect(await store.claimCreation(match, { owner: 'b', untilMs: t + 10_000 })).toEqual({
      claimed: false,
      contactId: '501',
    });
    // Linked keys are never claimed again, not even by the owner that linked them.
    expect(await store.claimCreation({ email: match.email }, { owner: 'a', untilMs: t + 10_000 })).toEqual({
      claimed: false,
      contactId: '501',
    });
  });

  it('claims all or nothing: a refused key gives back the keys claimed before it', async () => {
    const t = 3_000_000;
    const store = makeStore(() => t);
    const match = person();
    // Another job holds the phone (claimed last in order externalKey, email, phone).
    expect(await store.claimCreation({ phone: match.phone }, { owner: 'b', untilMs: t + 10_000 })).toEqual({
      claimed: true,
    });
    expect(await store.claimCreation(match, { owner: 'a', untilMs: t + 10_000 })).toEqual({ claimed: false });
    // So the external key and email are free for a third owner.
    expect(
      await store.claimCreation(
        { externalKey: match.externalKey, email: match.email },
        { owner: 'c', untilMs: t + 10_000 },
      ),
    ).toEqual({ claimed: true });
  });

  it('links a created contact over its claims but keeps a key another contact was linked to meanwhile', async () => {
    const t = 5_000_000;
    const store = makeStore(() => t);
    const match = person();
    expect(await store.claimCreation(match, { owner: 'a', untilMs: t + 10_000 })).toEqual({ claimed: true });
    // A links import for the person's email while the contact is created.
    await store.putLinks('700', { email: match.email });
    expect(await store.linkCreated('800', match)).toEqual({ linked: false, contactId: '700' });
    expect(await store.resolve({ email: match.email })).toBe('700');
    // The other keys were free (claimed by the creator): they are linked to the new contact.
    expect(await store.resolve({ externalKey: match.externalKey })).toBe('800');
    expect(await store.resolve({ phone: match.phone })).toBe('800');
    // Linking again to the same contact (a redelivery) is no conflict.
    const other = person();
    expect(await store.claimCreation(other, { owner: 'a', untilMs: t + 10_000 })).toEqual({ claimed: true });
    expect(await store.linkCreated('801', other)).toEqual({ linked: true });
    expect(await store.linkCreated('801', other)).toEqual({ linked: true });
    expect(await store.resolve({ phone: other.phone })).toBe('801');
    expect(await store.claimCreation(other, { owner: 'b', untilMs: t + 10_000 })).toEqual({
      claimed: false,
      contactId: '801',
    });
  });

  describe('after a customer is redacted', () => {
    const T = Date.parse('2026-03-01T00:00:00.000Z');
    const iso = (ms: number) => new Date(ms).toISOString();
    const customer = () => {
      const domain = shop();
      const id = randomUUID().slice(0, 8);
      return { domain, id, match: { ...person(), externalKey: shopifyCustomerKey(domain, id) } };
    };

    it('holds back changes from before the removal and lets later ones link and create', async () => {
      const t = T;
      const store = makeStore(() => t);
      const { domain, id, match } = customer();
      await store.putLinks('900', match);
      expect(await store.removeCustomerLinks(domain, id)).toBe(3);
      expect(await store.resolve(match)).toBeUndefined();
      expect((await store.lookup(match)).redactedAt).toBe(iso(T));
      expect((await store.lookup({ phone: match.phone })).redactedAt).toBe(iso(T));

      // A job from before the redact (queued, dead-lettered, in flight) links nothing and claims nothing.
      const before = iso(T - 60_000);
      expect(await store.putLinks('900', match, { occurredAt: before })).toBe(3);
      expect(await store.resolve(match)).toBeUndefined();
      expect(
        await store.claimCreation(match, { owner: 'a', untilMs: T + 10_000, occurredAt: before }),
      ).toEqual({ claimed: false });
      // The same instant written with an offset is still before the redact.
      expect(
        await store.putLinks('900', { email: match.email }, { occurredAt: '2026-03-01T00:59:00+01:00' }),
      ).toBe(1);

      // A change made after it is a new relationship: claimed, created, linked; the tombstones go.
      const after = iso(T + 60_000);
      expect(
        await store.claimCreation(match, { owner: 'a', untilMs: T + 10_000, occurredAt: after }),
      ).toEqual({ claimed: true });
      expect(await store.linkCreated('901', match, after)).toEqual({ linked: true });
      expect(await store.lookup(match)).toEqual({ contactId: '901' });
      // The tombstones went with the links: an older change links too now.
      expect(await store.putLinks('901', match, { occurredAt: before })).toBe(0);
    });

    it('leaves a contact created across the redact unlinked', async () => {
      let t = T;
      const store = makeStore(() => t);
      const { domain, id, match } = customer();
      const occurredAt = iso(T - 1_000);
      expect(await store.claimCreation(match, { owner: 'a', untilMs: T + 10_000, occurredAt })).toEqual({
        claimed: true,
      });
      // The redact lands while POST /contacts runs.
      t += 1_000;
      await store.removeCustomerLinks(domain, id, { email: match.email, phone: match.phone });
      expect(await store.linkCreated('902', match, occurredAt)).toEqual({ linked: false, redacted: true });
      expect(await store.resolve(match)).toBeUndefined();
      expect((await store.lookup(match)).redactedAt).toBe(iso(T + 1_000));
    });

    it('lets an import link a redacted key, and holds nothing back once a tombstone expires', async () => {
      let t = T;
      const store = makeStore(() => t);
      const { domain, id, match } = customer();
      await store.putLinks('903', match);
      await store.removeCustomerLinks(domain, id);
      // An operator's import (no change time) links whatever the tombstone says.
      expect(await store.putLinks('904', { email: match.email })).toBe(0);
      expect(await store.resolve({ email: match.email })).toBe('904');

      // The external key is still unlinked: its tombstone alone answers, until it expires.
      expect(await store.lookup({ externalKey: match.externalKey })).toEqual({ redactedAt: iso(T) });
      t += REDACT_KEEP_SECONDS * 1000 + 1_000;
      expect(await store.lookup({ externalKey: match.externalKey })).toEqual({});
      expect(await store.putLinks('905', match, { occurredAt: iso(T - 60_000) })).toBe(0);
      expect(await store.resolve({ externalKey: match.externalKey })).toBe('905');
    });
  });

  it('releases only its own claims', async () => {
    const t = 4_000_000;
    const store = makeStore(() => t);
    const match = person();
    expect(await store.claimCreation(match, { owner: 'a', untilMs: t + 10_000 })).toEqual({ claimed: true });
    await store.releaseCreation(match, 'b');
    expect(await store.claimCreation(match, { owner: 'b', untilMs: t + 10_000 })).toEqual({ claimed: false });
    await store.releaseCreation(match, 'a');
    expect(await store.claimCreation(match, { owner: 'b', untilMs: t + 10_000 })).toEqual({ claimed: true });
  });
});

describe('link store on DynamoDB', () => {
  it('stores emails and phones only as hashes', async () => {
    const store = createLinkStore({ client, tableName });
    const id = randomUUID();
    await store.putLinks('77', {
      externalKey: shopifyCustomerKey(shop(), '1'),
      email: `plain-${id}@x.io`,
      phone: '+15550003333',
    });
    const items = await client.send(new ScanCommand({ TableName: tableName }));
    const text = JSON.stringify(items.Items);
    expect(text).toContain('"contactId":"77"');
    expect(text).not.toContain(`plain-${id}`);
    expect(text).not.toContain('15550003333');
  });
});
