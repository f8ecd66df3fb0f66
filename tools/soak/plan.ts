import type { CustomFieldValue } from '../../lib/cleartalk/schemas.js';
import { contactKey, deduplicationId, type PatchJob } from '../../lib/jobs/patch-job.js';
import { createPrng } from '../sandbox/server.js';

/**
 * The soak's workload, as pure data (issue 7 §1): seeded contacts with custom fields "set by
 * another source", links to import, PatchJobs from mixed sources sent in waves (with late
 * redeliveries, stale changes and no-op repeats), a few deliberately permanent jobs, and the state
 * ClearTalk must end in. Deterministic for a seed; no I/O, no clock.
 */

export const SOAK_SHOP = 'soak-shop.myshopify.com';

/** Named string fields the jobs write (email/phone left out: the webhook mappers own their formats). */
export const SOAK_FIELDS = [
  'firstName',
  'lastName',
  'tag',
  'listName',
  'clearTalkNotes',
  'contactSource',
] as const;
type SoakField = (typeof SOAK_FIELDS)[number];

/** Custom-field keys each source writes (never the `crm_*` keys the seed's "other source" owns). */
const SOURCE_KEYS = {
  typeform: ['tf_plan', 'tf_team_size', 'tf_newsletter'],
  shopify: ['shop_city', 'shop_last_order', 'shop_state'],
  'crm-sync': ['ext_score', 'ext_segment'],
} as const;
type SoakSource = keyof typeof SOURCE_KEYS;
const LINKED_SOURCES: readonly SoakSource[] = ['shopify', 'crm-sync'];

/**
 * The sources of new people's jobs: tools/soak/mappings.json sets both to `createIfUnresolved`, so
 * the worker creates their contacts (`POST /contacts`). `shopify` stays off: the planted
 * unresolved jobs must still dead-letter.
 */
export const CREATING_SOURCES = { shop: 'shop-signup', form: 'form-signup' } as const;
const CREATING_KEYS = {
  [CREATING_SOURCES.shop]: SOURCE_KEYS.shopify,
  [CREATING_SOURCES.form]: SOURCE_KEYS.typeform,
} as const;

/** Permanent failures planted on purpose, with the dead-letter reason each must get. */
export const PERMANENT_REASONS = {
  notFound: 'contact-not-found',
  invalid: 'invalid-job',
  unresolved: 'unresolved-contact',
} as const;

export interface SoakDelivery {
  /** The SQS message body. */
  readonly body: string;
  readonly groupId: string;
  readonly deduplicationId: string;
  /** Undefined for a body that is not a PatchJob at all. */
  readonly jobId: string;
  readonly kind: 'first' | 'redelivery';
}

// A type alias, not an interface: the sandbox's seed() takes objects with an index signature.
export type SeedContact = {
  id: number;
  firstName: string;
  lastName: string;
  customField: Record<string, CustomFieldValue>;
};

export interface ExpectedContact {
  readonly id: number;
  /** Every SOAK_FIELD value the contact must have (seeded or the latest change). */
  readonly fields: Record<string, string | null>;
  /** The whole customField object it must have: the other source's keys plus the latest of ours. */
  readonly customField: Record<string, CustomFieldValue>;
}

/**
 * A person no contact and no link exists for before the run. Every job carries the person's email
 * (in `match` and in `patch`), so all of them share a key with whichever job creates the contact
 * (a phone-only job could not be linked to an email-only one: a documented limit), and the created
 * contact is found by its unique email.
 */
export interface NewPerson {
  readonly email: string;
  /** Carried, with the email, by the `shop-signup` jobs (message group: this key). */
  readonly externalKey: string;
  /** Carried, with the email, by some `form-signup` jobs (message group: the email). */
  readonly phone?: string;
  readonly jobIds: string[];
  /** Every SOAK_FIELD (null when no job set it) and `email`: the latest change of each. */
  readonly fields: Record<string, string | null>;
  readonly customField: Record<string, CustomFieldValue>;
}

export interface SoakPlan {
  readonly contacts: SeedContact[];
  /** `contact_id,external_key` CSV rows for `npm run links -- import` (header included). */
  readonly linksCsv: string;
  /** Deliveries in waves; each wave is sent once the queue is shallow again. */
  readonly waves: SoakDelivery[][];
  readonly expected: ExpectedContact[];
  /** People whose contacts the worker must create, one each. */
  readonly newPeople: NewPerson[];
  /** jobId -> the dead-letter reason it must get; nothing else may be dead-lettered. */
  readonly permanent: ReadonlyMap<string, string>;
  readonly counts: {
    jobs: number;
    valid: number;
    redeliveries: number;
    stale: number;
    noOpRepeats: number;
    byExternalKey: number;
    /** Jobs naming the contact id of a contact whose other jobs come by external key. */
    crossGroup: number;
    /** Jobs of new people (first deliveries), and those sent after a newer job of the same person. */
    newPersonJobs: number;
    newPersonOutOfOrder: number;
    bySource: Record<string, number>;
  };
  /** Distinctive values that must never appear in logs (a sample of what was sent). */
  readonly valueSample: string[];
}

export interface SoakPlanOptions {
  /** PatchJobs generated, redeliveries and permanent jobs included. */
  readonly jobs: number;
  /** @default max(50, round(jobs / 17)) */
  readonly contacts?: number;
  /** @default 1 */
  readonly seed?: number;
  /** Deliveries per wave. @default 100 */
  readonly waveSize?: number;
  /** Share of jobs delivered again later with a new deduplication id. @default 0.1 */
  readonly redeliveryShare?: number;
  /** Share of jobs carrying an older change to a field a sent job already changed. @default 0.1 */
  readonly staleShare?: number;
  /** Share of jobs repeating a field's latest value with a newer occurredAt. @default 0.05 */
  readonly noOpShare?: number;
  /** Planted permanent jobs of each kind. @default max(3, round(jobs / 1000)) */
  readonly permanentEach?: number;
  /**
   * Share of the external producer's jobs for a linked contact that name its contact id instead
   * of the external key (two FIFO groups for one contact). @default 0
   */
  readonly crossGroupShare?: number;
  /**
   * Share of the valid jobs that belong to new people (3-5 jobs each, in two message groups),
   * whose contacts the worker must create. @default 0.05
   */
  readonly newPersonShare?: number;
}

interface Change {
  readonly occurredAtMs: number;
  readonly value: string | CustomFieldValue;
}

const BASE_MS = Date.UTC(2026, 10, 1);
const STEP_MS = 60_000;

/** Builds the soak workload; see the module comment. */
export function planSoak(options: SoakPlanOptions): SoakPlan {
  const random = createPrng(options.seed ?? 1);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const jobsWanted = Math.max(10, options.jobs);
  const contactCount = options.contacts ?? Math.max(50, Math.round(jobsWanted / 17));
  const waveSize = options.waveSize ?? 100;
  const redeliveryShare = options.redeliveryShare ?? 0.1;
  const staleShare = options.staleShare ?? 0.1;
  const noOpShare = options.noOpShare ?? 0.05;
  const permanentEach = options.permanentEach ?? Math.max(3, Math.round(jobsWanted / 1000));
  const crossGroupShare = options.crossGroupShare ?? 0;
  const newPersonShare = options.newPersonShare ?? 0.05;
  const run = (options.seed ?? 1).toString(36);

  const contacts: SeedContact[] = [];
  const linked = new Set<number>();
  const linkRows = ['contact_id,external_key'];
  for (let i = 0; i < contactCount; i++) {
    const id = 1_001 + i;
    contacts.push({
      id,
      firstName: `Seed${id}`,
      lastName: `Person${id}`,
      // What another system wrote: the soak never sends these keys, so they must survive every merge.
      customField: { crm_owner: `owner-${id % 7}`, crm_score: id, crm_vip: id % 2 === 0 },
    });
    // A third of the contacts are Shopify customers linked by external key before the run.
    if (i % 3 === 0) {
      linked.add(id);
      linkRows.push(`${id},${externalKeyOf(id)}`);
    }
  }

  /** Latest change per contact and field key (`firstName`, `customField.tf_plan`). */
  const latest = new Map<number | string, Map<string, Change>>();
  const history = new Map<number | string, PatchJob[]>();
  const clock = new Map<number, number>();
  const permanent = new Map<string, string>();
  const sequence: Array<{ delivery: SoakDelivery; valid: boolean }> = [];
  const valueSample: string[] = [];
  const counts = {
    jobs: 0,
    valid: 0,
    redeliveries: 0,
    stale: 0,
    noOpRepeats: 0,
    byExternalKey: 0,
    crossGroup: 0,
    newPersonJobs: 0,
    newPersonOutOfOrder: 0,
    bySource: {} as Record<string, number>,
  };
  let staleOffset = 0;

  /** `contactId`: a seeded contact's id, or `new:<n>` for a new person. */
  const record = (contactId: number | string, job: PatchJob) => {
    const at = Date.parse(job.occurredAt);
    const fields = latest.get(contactId) ?? new Map<string, Change>();
    latest.set(contactId, fields);
    const entries: Array<[string, string | CustomFieldValue]> = [
      ...[...SOAK_FIELDS, 'email' as const].flatMap((f) =>
        job.patch[f] === undefined ? [] : [[f, job.patch[f]] as [string, string]],
      ),
      ...Object.entries(job.patch.customField ?? {}).map(
        ([k, v]) => [`customField.${k}`, v] as [string, CustomFieldValue],
      ),
    ];
    for (const [key, value] of entries) {
      const current = fields.get(key);
      if (!current || current.occurredAtMs < at) fields.set(key, { occurredAtMs: at, value });
    }
    const list = history.get(contactId) ?? [];
    list.push(job);
    history.set(contactId, list);
  };

  const addressed = (contactId: number, source: SoakSource): Pick<PatchJob, 'contactId' | 'match'> => {
    // A linked Shopify customer's jobs (Shopify's, and the external producer's that knows the
    // Shopify key) arrive by external key only: the worker resolves them through the imported links.
    // `crossGroupShare` of the producer's jobs name the contact id instead, so one contact is
    // reached through two FIFO groups that SQS may hand to two invocations at once.
    if (linked.has(contactId) && (source === 'shopify' || random() >= crossGroupShare)) {
      return { match: { externalKey: externalKeyOf(contactId) } };
    }
    return { contactId: String(contactId) };
  };

  const valueFor = (key: string, index: number): string | CustomFieldValue => {
    if (key === 'tf_team_size' || key === 'ext_score') return index;
    if (key === 'tf_newsletter') return index % 2 === 0;
    return `sv${index}q${key.length}`;
  };

  const push = (job: PatchJob | string, jobId: string, groupId: string, valid: boolean) => {
    const body = typeof job === 'string' ? job : JSON.stringify(job);
    sequence.push({
      delivery: { body, groupId, deduplicationId: deduplicationId(jobId), jobId, kind: 'first' },
      valid,
    });
    counts.jobs++;
    if (valid) counts.valid++;
  };

  const permanentTotal = permanentEach * 3;
  const validWanted = Math.max(1, Math.round((jobsWanted - permanentTotal) / (1 + redeliveryShare)));
  // New people take their share of the valid jobs (at least one person once the share is set).
  const peopleCount = newPersonShare > 0 ? Math.max(1, Math.round((validWanted * newPersonShare) / 4)) : 0;
  const peopleJobCounts = Array.from({ length: peopleCount }, () => 3 + Math.floor(random() * 3));
  const regular = Math.max(1, validWanted - peopleJobCounts.reduce((sum, n) => sum + n, 0));
  for (let index = 0; index < regular; index++) {
    const contactId = (pick(contacts) as SeedContact).id;
    // Typeform names contacts by the hidden contact_id field, so it never writes to linked ones.
    const source = pick(linked.has(contactId) ? LINKED_SOURCES : (Object.keys(SOURCE_KEYS) as SoakSource[]));
    const jobId = `soak:${run}:${source}:${index}`;
    const past = history.get(contactId) ?? [];
    const roll = random();
    let occurredAtMs: number;
    const patch: Record<string, unknown> = {};
    const custom: Record<string, CustomFieldValue> = {};
    const target = past.length > 0 ? pick(past) : undefined;

    if (roll < staleShare && target) {
      // An older change to fields a job already sent changed: it arrives late and must lose.
      counts.stale++;
      staleOffset++;
      occurredAtMs = Date.parse(target.occurredAt) - staleOffset;
      for (const field of SOAK_FIELDS)
        if (target.patch[field] !== undefined) patch[field] = valueFor(field, index);
      for (const key of Object.keys(target.patch.customField ?? {})) custom[key] = valueFor(key, index);
    } else {
      const tick = (clock.get(contactId) ?? 0) + 1;
      clock.set(contactId, tick);
      occurredAtMs = BASE_MS + tick * STEP_MS;
      const fields = latest.get(contactId);
      if (roll < staleShare + noOpShare && fields && fields.size > 0) {
        // The same value again, newer: nothing to send for that field (a no-op).
        counts.noOpRepeats++;
        const [key, change] = pick([...fields.entries()]);
        if (key.startsWith('customField.')) custom[key.slice('customField.'.length)] = change.value;
        else patch[key] = change.value;
      }
      const fieldCount = 1 + Math.floor(random() * 3);
      for (let n = 0; n < fieldCount; n++) {
        const field = pick(SOAK_FIELDS) as SoakField;
        patch[field] = valueFor(field, index);
      }
      const keys = SOURCE_KEYS[source];
      const customCount = Math.floor(random() * 3);
      for (let n = 0; n < customCount; n++) {
        const key = pick(keys);
        custom[key] = valueFor(key, index);
      }
    }
    if (Object.keys(custom).length > 0) patch.customField = custom;
    const job: PatchJob = {
      version: 1,
      jobId,
      source,
      ...addressed(contactId, source),
      patch: patch as PatchJob['patch'],
      occurredAt: new Date(occurredAtMs).toISOString(),
    };
    if (job.match) counts.byExternalKey++;
    else if (linked.has(contactId)) counts.crossGroup++;
    counts.bySource[source] = (counts.bySource[source] ?? 0) + 1;
    record(contactId, job);
    push(job, jobId, contactKey(job), true);
    if (valueSample.length < 50 && typeof patch.firstName === 'string') valueSample.push(patch.firstName);
  }

  // Planted permanent failures, spread through the run.
  for (let k = 0; k < permanentEach; k++) {
    const missing = `soak:${run}:missing:${k}`;
    permanent.set(missing, PERMANENT_REASONS.notFound);
    const missingJob: PatchJob = {
      version: 1,
      jobId: missing,
      source: 'crm-sync',
      contactId: String(900_000 + k),
      patch: { tag: `gone${k}`, ...(k % 2 === 0 ? { customField: { ext_score: k } } : {}) },
      occurredAt: new Date(BASE_MS + k * STEP_MS).toISOString(),
    };
    insertAt(sequence, random, { delivery: first(missingJob), valid: false });

    const invalid = `soak:${run}:invalid:${k}`;
    permanent.set(invalid, PERMANENT_REASONS.invalid);
    // An external producer's bug: an empty patch (the contract needs at least one field).
    const invalidBody = JSON.stringify({
      version: 1,
      jobId: invalid,
      source: 'crm-sync',
      contactId: '1001',
      patch: {},
      occurredAt: new Date(BASE_MS).toISOString(),
    });
    insertAt(sequence, random, {
      delivery: {
        body: invalidBody,
        groupId: `soak-invalid-${k}`,
        deduplicationId: deduplicationId(invalid),
        jobId: invalid,
        kind: 'first',
      },
      valid: false,
    });

    const unresolved = `soak:${run}:unlinked:${k}`;
    permanent.set(unresolved, PERMANENT_REASONS.unresolved);
    const unresolvedJob: PatchJob = {
      version: 1,
      jobId: unresolved,
      source: 'shopify',
      match: { externalKey: `shopify:${SOAK_SHOP}:customer:${800_000 + k}` },
      patch: { firstName: `Nobody${k}` },
      occurredAt: new Date(BASE_MS + k * STEP_MS).toISOString(),
    };
    insertAt(sequence, random, { delivery: first(unresolvedJob), valid: false });
    counts.jobs += 3;
  }

  // New people: 3-5 jobs each, from both creating sources, so one person's jobs sit in two message
  // groups (the external key's and the email's) that two invocations may process at once. The
  // `occurredAt`s are distinct and the send order shuffled, so older changes also arrive late. The
  // first two sent are one of each group, side by side; the rest follow within two waves.
  const newPeople: NewPerson[] = [];
  peopleJobCounts.forEach((jobCount, n) => {
    const key = `new:${n}`;
    const email = `new${n}.${run}@soak-people.example`;
    const externalKey = `shopify:${SOAK_SHOP}:customer:${9_000_000 + n}`;
    const phone = n % 3 === 1 ? `+1415555${String(n % 10_000).padStart(4, '0')}` : undefined;
    const jobs: PatchJob[] = [];
    let phoneSent = false;
    for (let j = 0; j < jobCount; j++) {
      // Job 0 by external key, job 1 by email: both groups, whatever the draw for the others.
      const source =
        j === 0
          ? CREATING_SOURCES.shop
          : j === 1
            ? CREATING_SOURCES.form
            : pick(Object.values(CREATING_SOURCES));
      const index = 1_000_000 + n * 10 + j;
      const patch: Record<string, unknown> = { email };
      const fieldCount = 1 + Math.floor(random() * 3);
      for (let f = 0; f < fieldCount; f++) {
        const field = pick(SOAK_FIELDS) as SoakField;
        patch[field] = valueFor(field, index);
      }
      const custom: Record<string, CustomFieldValue> = {};
      for (let c = Math.floor(random() * 3); c > 0; c--) {
        const customKey = pick(CREATING_KEYS[source]);
        custom[customKey] = valueFor(customKey, index);
      }
      if (Object.keys(custom).length > 0) patch.customField = custom;
      const withPhone = source === CREATING_SOURCES.form && phone !== undefined && random() < 0.5;
      phoneSent ||= withPhone;
      const match =
        source === CREATING_SOURCES.shop
          ? { externalKey, email }
          : { email, ...(withPhone ? { phone } : {}) };
      const job: PatchJob = {
        version: 1,
        jobId: `soak:${run}:${source}:new${n}:${j}`,
        source,
        match,
        patch: patch as PatchJob['patch'],
        occurredAt: new Date(BASE_MS + (1 + j) * STEP_MS).toISOString(),
      };
      jobs.push(job);
      record(key, job);
      counts.bySource[source] = (counts.bySource[source] ?? 0) + 1;
    }
    // Send order: one job of each group first (in a random order), then the rest shuffled.
    const firstTwo = random() < 0.5 ? [jobs[0], jobs[1]] : [jobs[1], jobs[0]];
    const rest = jobs.slice(2);
    for (let i = rest.length - 1; i > 0; i--) {
      const k = Math.floor(random() * (i + 1));
      [rest[i], rest[k]] = [rest[k] as PatchJob, rest[i] as PatchJob];
    }
    const order = [...firstTwo, ...rest] as PatchJob[];
    order.forEach((job, i) => {
      if (order.slice(0, i).some((earlier) => earlier.occurredAt > job.occurredAt))
        counts.newPersonOutOfOrder++;
    });
    const base = Math.floor(random() * (sequence.length + 1));
    order.forEach((job, i) => {
      const at = i < 2 ? base + i : base + 2 + Math.floor(random() * waveSize * 2);
      sequence.splice(Math.min(at, sequence.length), 0, { delivery: first(job), valid: true });
    });
    counts.jobs += order.length;
    counts.valid += order.length;
    counts.newPersonJobs += order.length;
    const fields: Record<string, string | null> = { email };
    for (const field of SOAK_FIELDS) fields[field] = null;
    const customField: Record<string, CustomFieldValue> = {};
    for (const [field, change] of latest.get(key) ?? []) {
      if (field.startsWith('customField.')) customField[field.slice('customField.'.length)] = change.value;
      else fields[field] = change.value as string;
    }
    newPeople.push({
      email,
      externalKey,
      ...(phone !== undefined && phoneSent ? { phone } : {}),
      jobIds: jobs.map((job) => job.jobId),
      fields,
      customField,
    });
  });

  // Redeliveries: the same body again a few waves later, with a new deduplication id (outside
  // SQS's 5-minute window a producer's or platform's retry is accepted as a new message).
  const deliveries = sequence.map((entry) => entry.delivery);
  const validIndexes = sequence.flatMap((entry, i) => (entry.valid ? [i] : []));
  const redeliverCount = Math.round(validWanted * redeliveryShare);
  const chosen = new Set<number>();
  // A fifth of the new people's jobs come again for sure: a late copy of a creating job must find
  // the ledger (a duplicate), not create a second contact. Few enough to leave the draw below random.
  const peopleJobs = new Set(newPeople.flatMap((person) => person.jobIds));
  for (const i of validIndexes) {
    const jobId = sequence[i]?.delivery.jobId;
    if (jobId !== undefined && peopleJobs.has(jobId) && random() < 0.2 && chosen.size < redeliverCount)
      chosen.add(i);
  }
  while (chosen.size < Math.min(redeliverCount, validIndexes.length)) chosen.add(pick(validIndexes));
  const lag = waveSize * 3;
  const ordered: SoakDelivery[] = [];
  const pending = new Map<number, SoakDelivery[]>();
  for (let i = 0; i < deliveries.length; i++) {
    const delivery = deliveries[i] as SoakDelivery;
    ordered.push(delivery, ...(pending.get(i) ?? []));
    pending.delete(i);
    if (chosen.has(i)) {
      const at = Math.min(deliveries.length - 1, i + lag + Math.floor(random() * lag));
      const copy: SoakDelivery = {
        ...delivery,
        kind: 'redelivery',
        deduplicationId: deduplicationId(`redelivery:${delivery.jobId}`),
      };
      if (at <= i) ordered.push(copy);
      else pending.set(at, [...(pending.get(at) ?? []), copy]);
    }
  }
  for (const rest of pending.values()) ordered.push(...rest);
  counts.redeliveries = chosen.size;
  counts.jobs += chosen.size;

  const waves: SoakDelivery[][] = [];
  for (let i = 0; i < ordered.length; i += waveSize) waves.push(ordered.slice(i, i + waveSize));

  const expected: ExpectedContact[] = contacts.map((contact) => {
    const fields: Record<string, string | null> = {};
    for (const field of SOAK_FIELDS) {
      fields[field] = field === 'firstName' || field === 'lastName' ? contact[field] : null;
    }
    const customField: Record<string, CustomFieldValue> = { ...contact.customField };
    for (const [key, change] of latest.get(contact.id) ?? []) {
      if (key.startsWith('customField.')) customField[key.slice('customField.'.length)] = change.value;
      else fields[key] = change.value as string;
    }
    return { id: contact.id, fields, customField };
  });

  return {
    contacts,
    linksCsv: `${linkRows.join('\n')}\n`,
    waves,
    expected,
    newPeople,
    permanent,
    counts,
    valueSample,
  };
}

function externalKeyOf(contactId: number): string {
  return `shopify:${SOAK_SHOP}:customer:${7_000_000 + contactId}`;
}

function first(job: PatchJob): SoakDelivery {
  return {
    body: JSON.stringify(job),
    groupId: contactKey(job),
    deduplicationId: deduplicationId(job.jobId),
    jobId: job.jobId,
    kind: 'first',
  };
}

function insertAt<T>(list: T[], random: () => number, item: T): void {
  list.splice(Math.floor(random() * (list.length + 1)), 0, item);
}
