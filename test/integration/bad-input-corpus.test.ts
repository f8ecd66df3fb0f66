import { createHmac, randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildShopifyEvent, buildTypeformEvent } from '../../tools/local/webhook-events.js';
import { shopifyCustomerPayload, shopifyOrderPayload, typeformPayload } from '../helpers/events.js';
import { signShopify, signTypeform } from '../helpers/sign.js';
import { createFifoQueue, createSecret, createStateTable, drainQueue } from './webhooks/aws.js';

/**
 * The bad-input corpus (issue 7 §2): seeded fast-check deliveries, malformed, forged, truncated,
 * oversized, wrongly encoded and unicode-heavy, through the REAL handler modules (secrets in moto
 * Secrets Manager, a FIFO queue and the state table on moto). Every answer must be a 4xx JSON
 * `{error, message}` (never 404/410, never a 5xx), nothing may be enqueued, and the Powertools log
 * output (captured from stdout/stderr) must carry no secret and no email, phone or name from the
 * payloads.
 */

type HttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

const RUNS_PER_HANDLER = 300;
const SEED = 20261127;
const SHOP = 'corpus-shop.myshopify.com';
const MAX_BODY_BYTES = 1024 * 1024;

const typeformSecret = `tf-corpus-${randomUUID()}`;
const shopifySecret = `shp-corpus-${randomUUID()}`;

/** Contact values planted in a payload: each must stay out of the logs. */
interface Person {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
}

const token = fc.string({ unit: fc.constantFrom(...'abcdefghijkmnpqrstuvwxyz'), minLength: 8, maxLength: 8 });
const unicodeTail = fc.string({ unit: 'grapheme', maxLength: 6 });
const personArb: fc.Arbitrary<Person> = fc
  .record({
    first: token,
    last: token,
    mailbox: token,
    digits: fc.integer({ min: 1000, max: 9999 }),
    tailA: unicodeTail,
    tailB: unicodeTail,
  })
  .map(({ first, last, mailbox, digits, tailA, tailB }) => ({
    // An ASCII marker plus unicode (accents, emoji, RTL, combining marks): the marker is what the
    // log search looks for, so a logged name is found however its tail was escaped.
    firstName: `Fn${first}é${tailA}`,
    lastName: `Ln${last}${tailB}`,
    email: `Em${mailbox}@Example.COM`,
    phone: `+1202555${digits}`,
  }));

/** The strings whose presence in a log line would be a leak. */
function markers(person: Person): string[] {
  return [
    person.firstName.slice(0, 10),
    person.lastName.slice(0, 10),
    person.email.split('@')[0] as string,
    person.email.toLowerCase(),
    person.phone,
    person.phone.slice(2),
  ];
}

function typeformBody(person: Person, extra: Record<string, unknown>): Record<string, unknown> {
  return typeformPayload({
    event_id: randomUUID(),
    form_response: {
      form_id: 'corpus1',
      token: randomUUID().replaceAll('-', ''),
      submitted_at: '2026-11-26T10:00:00Z',
      hidden: { contact_id: '42' },
      definition: { id: 'corpus1', title: 'Corpus', fields: [] },
      answers: [
        { type: 'text', text: person.firstName, field: { id: 'a', type: 'short_text', ref: 'first_name' } },
        { type: 'text', text: person.lastName, field: { id: 'b', type: 'short_text', ref: 'last_name' } },
        { type: 'email', email: person.email, field: { id: 'c', type: 'email', ref: 'email' } },
        {
          type: 'phone_number',
          phone_number: person.phone,
          field: { id: 'd', type: 'phone_number', ref: 'phone' },
        },
      ],
      ...extra,
    },
  });
}

function shopifyBody(person: Person, order: boolean): Record<string, unknown> {
  const customer = shopifyCustomerPayload({
    id: 7_064_055_069_303,
    first_name: person.firstName,
    last_name: person.lastName,
    email: person.email,
    phone: person.phone,
  });
  return order ? shopifyOrderPayload({ email: person.email, phone: person.phone, customer }) : customer;
}

/** A delivery of the corpus: the event, what it must be answered with, and what must not leak. */
interface Case {
  kind: string;
  event: APIGatewayProxyEventV2;
  /** 401 unverified, 413 oversized, 400 verified but bad. */
  expected: 400 | 401 | 413;
  secrets: string[];
  leaks: string[];
}

type Platform = 'typeform' | 'shopify';

const SIGNATURE_HEADER = { typeform: 'typeform-signature', shopify: 'x-shopify-hmac-sha256' } as const;

function buildEvent(platform: Platform, body: string, options: { base64?: boolean; topic?: string } = {}) {
  const base64 = options.base64 === undefined ? {} : { base64: options.base64 };
  return platform === 'typeform'
    ? buildTypeformEvent(body, { secret: typeformSecret, ...base64 })
    : buildShopifyEvent(body, {
        secret: shopifySecret,
        topic: options.topic ?? 'customers/update',
        shop: SHOP,
        ...base64,
      });
}

function withHeader(event: APIGatewayProxyEventV2, name: string, value: string | undefined) {
  const headers = { ...event.headers };
  delete headers[name];
  if (value !== undefined) headers[name] = value;
  return { ...event, headers };
}

function sign(platform: Platform, body: string | Uint8Array, secret: string): string {
  return platform === 'typeform' ? signTypeform(body, secret) : signShopify(body, secret);
}

/** Re-signs an event over `signedBytes` with `secret` (the sender's view, whatever was delivered). */
function resign(
  platform: Platform,
  event: APIGatewayProxyEventV2,
  signedBytes: string | Uint8Array,
  secret: string,
) {
  return withHeader(event, SIGNATURE_HEADER[platform], sign(platform, signedBytes, secret));
}

/** Deliveries no secret-holder sent: each must be refused with 401 (413 when oversized). */
function unverifiedCase(platform: Platform): fc.Arbitrary<Case> {
  const secret = platform === 'typeform' ? typeformSecret : shopifySecret;
  const header = SIGNATURE_HEADER[platform];
  return fc
    .record({
      person: personArb,
      order: fc.boolean(),
      kind: fc.constantFrom(
        'forged',
        'missing-signature',
        'hex-digest',
        'garbage-signature',
        'truncated',
        'reserialised',
        'bad-base64-flag',
        'base64-not-flagged',
        'latin1-bytes',
        'secret-with-newline',
        'other-platform-secret',
        'unicode-forged',
        'oversized',
      ),
      junk: fc.string({ unit: 'binary', maxLength: 60 }),
      cut: fc.double({ min: 0.05, max: 0.95, noNaN: true }),
      noise: fc.string({ unit: 'grapheme', minLength: 20, maxLength: 400 }),
    })
    .map(({ person, order, kind, junk, cut, noise }): Case => {
      const payload =
        platform === 'typeform'
          ? typeformBody(
              person,
              kind === 'unicode-forged' ? { variables: [{ key: noise, type: 'text', text: noise }] } : {},
            )
          : shopifyBody(person, order);
      const body = JSON.stringify(payload);
      const topic = order ? 'orders/paid' : 'customers/update';
      const good = buildEvent(platform, body, { topic });
      const leaks = markers(person);
      const result = (event: APIGatewayProxyEventV2, expected: 401 | 413 = 401): Case => ({
        kind,
        event,
        expected,
        secrets: [secret],
        leaks,
      });
      switch (kind) {
        case 'forged':
        case 'unicode-forged':
          return result(resign(platform, good, body, `forged-${junk}`));
        case 'missing-signature':
          return result(withHeader(good, header, undefined));
        case 'hex-digest': {
          const hex = createHmac('sha256', secret).update(body).digest('hex');
          return result(withHeader(good, header, platform === 'typeform' ? `sha256=${hex}` : hex));
        }
        case 'garbage-signature':
          return result(withHeader(good, header, junk));
        case 'truncated': {
          // Signed in full, cut in transit.
          const sent = body.slice(0, Math.max(1, Math.floor(body.length * cut)));
          return result({ ...good, body: sent });
        }
        case 'reserialised':
          // A proxy that re-formats JSON: the same data, other bytes.
          return result({ ...good, body: JSON.stringify(payload, null, 2) });
        case 'bad-base64-flag':
          return result({ ...good, isBase64Encoded: true });
        case 'base64-not-flagged':
          return result({
            ...good,
            body: Buffer.from(body, 'utf8').toString('base64'),
            isBase64Encoded: false,
          });
        case 'latin1-bytes':
          // Signed over UTF-8 by the platform, re-encoded as latin-1 on the way (é is in every first name).
          return result({
            ...good,
            body: Buffer.from(body, 'latin1').toString('base64'),
            isBase64Encoded: true,
          });
        case 'secret-with-newline':
          return result(resign(platform, good, body, `${secret}\n`));
        case 'other-platform-secret':
          return result(
            resign(platform, good, body, platform === 'typeform' ? shopifySecret : typeformSecret),
          );
        default: {
          // Over 1 MiB: refused before any HMAC work, signed or not.
          const padded = JSON.stringify({ ...payload, padding: 'x'.repeat(MAX_BODY_BYTES) });
          const event = buildEvent(platform, padded, { topic });
          return result(cut < 0.5 ? event : resign(platform, event, padded, `forged-${junk}`), 413);
        }
      }
    });
}

/** Bodies signed with the right secret that are not valid JSON or not the expected shape: 400. */
function verifiedBadCase(platform: Platform): fc.Arbitrary<Case> {
  const secret = platform === 'typeform' ? typeformSecret : shopifySecret;
  const wrongShape =
    platform === 'typeform'
      ? fc.oneof(
          fc
            .record({
              person: personArb,
              value: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string())),
            })
            .map(({ person, value }) => ({
              body: {
                event_id: person.email,
                event_type: 'form_response',
                form_response: value,
                name: person.firstName,
              },
              person,
            })),
          personArb.map((person) => ({
            body: {
              event_type: 'form_response',
              form_response: {
                answers: person.firstName,
                hidden: { email: person.email, phone: person.phone },
              },
            },
            person,
          })),
          fc
            .record({ person: personArb, eventType: fc.oneof(fc.integer(), fc.constant(null), fc.boolean()) })
            .map(({ person, eventType }) => ({
              body: { ...typeformBody(person, {}), event_type: eventType },
              person,
            })),
        )
      : fc
          .record({
            person: personArb,
            id: fc.oneof(
              fc.constant(undefined),
              fc.string(),
              fc.constant(-1),
              fc.constant(1.5),
              fc.constant({}),
            ),
            order: fc.boolean(),
          })
          .map(({ person, id, order }) => {
            const body = shopifyBody(person, order);
            if (id === undefined) delete body.id;
            else body.id = id;
            return { body, person, topic: order ? 'orders/paid' : 'customers/update' };
          });
  return fc
    .oneof(
      // Not JSON: cut short, then signed as sent.
      fc
        .record({ person: personArb, cut: fc.double({ min: 0.05, max: 0.95, noNaN: true }) })
        .map(({ person, cut }) => {
          const full = JSON.stringify(
            platform === 'typeform' ? typeformBody(person, {}) : shopifyBody(person, false),
          );
          return {
            kind: 'signed-truncated-json',
            text: full.slice(0, Math.floor(full.length * cut)),
            person,
            topic: undefined,
          };
        }),
      // JSON, but not an object.
      fc
        .record({
          person: personArb,
          value: fc.oneof(
            fc.array(fc.jsonValue()),
            fc.string(),
            fc.integer(),
            fc.constant(null),
            fc.boolean(),
          ),
        })
        .map(({ person, value }) => ({
          kind: 'signed-non-object',
          text: JSON.stringify(Array.isArray(value) ? [person.email, ...value] : value),
          person,
          topic: undefined,
        })),
      // An object of the wrong shape.
      wrongShape.map(({ body, person, ...rest }) => ({
        kind: 'signed-wrong-shape',
        text: JSON.stringify(body),
        person,
        topic: (rest as { topic?: string }).topic,
      })),
    )
    .chain(({ kind, text, person, topic }) =>
      fc.boolean().map((asBinary): Case => {
        // Half of them arrive base64-encoded with the flag set (API Gateway's binary path).
        const event = buildEvent(platform, text, { base64: asBinary, ...(topic ? { topic } : {}) });
        return {
          kind,
          event: resign(platform, event, text, secret),
          expected: 400,
          secrets: [secret],
          leaks: markers(person),
        };
      }),
    );
}

async function importHandler(path: string, env: Record<string, string>): Promise<HttpHandler> {
  vi.resetModules();
  Object.assign(process.env, env);
  try {
    return ((await import(path)) as { handler: HttpHandler }).handler;
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
  }
}

/** Captures what the functions' logger writes (every level to stdout; stderr too, to miss nothing). */
function captureOutput() {
  const chunks: string[] = [];
  const spy = (stream: NodeJS.WriteStream) =>
    vi.spyOn(stream, 'write').mockImplementation((chunk: unknown, ...rest: unknown[]) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    });
  const spies = [spy(process.stdout), spy(process.stderr)];
  return {
    text: () => chunks.join(''),
    restore: () => {
      for (const s of spies) s.mockRestore();
    },
  };
}

describe('bad-input corpus through the real webhook handlers', () => {
  let typeform: HttpHandler;
  let shopify: HttpHandler;
  let queueUrl: string;
  let output: ReturnType<typeof captureOutput>;

  beforeAll(async () => {
    queueUrl = await createFifoQueue('corpus');
    const table = await createStateTable();
    const common = { PATCH_QUEUE_URL: queueUrl, STATE_TABLE_NAME: table, POWERTOOLS_LOG_LEVEL: 'INFO' };
    typeform = await importHandler('../../handlers/typeform-webhook.js', {
      ...common,
      TYPEFORM_WEBHOOK_SECRET_ID: await createSecret(typeformSecret),
    });
    shopify = await importHandler('../../handlers/shopify-webhook.js', {
      ...common,
      SHOPIFY_WEBHOOK_SECRET_ID: await createSecret(JSON.stringify({ value: shopifySecret })),
    });
    output = captureOutput();
  });

  afterAll(() => output?.restore());

  async function deliver(handler: HttpHandler, c: Case): Promise<void> {
    const response = await handler(c.event);
    const context = `${c.kind}: answered ${response.statusCode} ${String(response.body).slice(0, 200)}`;
    expect(response.statusCode, context).toBe(c.expected);
    expect(response.headers?.['content-type'], context).toBe('application/json');
    const body = JSON.parse(String(response.body)) as Record<string, unknown>;
    expect(typeof body.error, context).toBe('string');
    expect(typeof body.message, context).toBe('string');
    for (const value of [...c.secrets, ...c.leaks]) expect(String(response.body)).not.toContain(value);
  }

  const leakedIn = (text: string, cases: readonly Case[]) =>
    cases.flatMap((c) =>
      [...c.secrets, ...c.leaks].filter((value) => value.length >= 6 && text.includes(value)),
    );

  for (const platform of ['typeform', 'shopify'] as const) {
    it(`answers ${RUNS_PER_HANDLER} bad ${platform} deliveries with a 4xx JSON error and enqueues nothing`, async () => {
      const handler = () => (platform === 'typeform' ? typeform : shopify);
      const seen: Case[] = [];
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            { arbitrary: unverifiedCase(platform), weight: 3 },
            { arbitrary: verifiedBadCase(platform), weight: 1 },
          ),
          async (c) => {
            seen.push(c);
            await deliver(handler(), c);
          },
        ),
        { seed: SEED + (platform === 'typeform' ? 0 : 1), numRuns: RUNS_PER_HANDLER, endOnFailure: true },
      );
      expect(seen.length).toBe(RUNS_PER_HANDLER);
      const kinds = new Map<string, number>();
      for (const c of seen) kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
      // Each family of the corpus was exercised.
      for (const kind of [
        'forged',
        'truncated',
        'oversized',
        'latin1-bytes',
        'bad-base64-flag',
        'signed-wrong-shape',
        'signed-truncated-json',
      ]) {
        expect(kinds.get(kind) ?? 0, kind).toBeGreaterThan(0);
      }
      expect(await drainQueue(queueUrl)).toHaveLength(0);
      const text = output.text();
      expect(text).toContain('signature rejected');
      expect(leakedIn(text, seen)).toEqual([]);
    });
  }

  it('still enqueues a genuine delivery of each platform, and the capture sees its log lines', async () => {
    // The control: the same handlers, queue and capture do let a real delivery through, so the
    // empty queue and the clean logs above are not an artefact of a broken set-up.
    const person = fc.sample(personArb, { seed: SEED, numRuns: 1 })[0] as Person;
    const tf = await typeform(buildEvent('typeform', JSON.stringify(typeformBody(person, {}))));
    const sh = await shopify(buildEvent('shopify', JSON.stringify(shopifyBody(person, false))));
    expect([tf.statusCode, sh.statusCode]).toEqual([200, 200]);
    expect(await drainQueue(queueUrl)).toHaveLength(2);
    expect(output.text()).toContain('delivery handled');
  });
});
