import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent } from 'aws-lambda';
import { createLinkStore } from '../../lib/aws/links.js';
import type { Contact } from '../../lib/cleartalk/schemas.js';
import { loadConfig } from '../../lib/config.js';
import { createApplyPatchesRuntime } from '../../lib/jobs/runtime.js';
import { importLinks, parseLinksCsv } from '../links.js';
import { drainQueue, queueDepth } from '../local/queue-tools.js';
import { type SqsPoller, startSqsPoller } from '../local/sqs-poller.js';
import { provisionStack } from '../provision.js';
import { type SandboxFaults, startSandbox } from '../sandbox/server.js';
import {
  type ExpectedContact,
  type NewPerson,
  planSoak,
  SOAK_FIELDS,
  type SoakDelivery,
  type SoakPlanOptions,
} from './plan.js';

/**
 * Runs the soak (issue 7 §1): the planned PatchJobs go onto a FIFO queue on moto in waves (kept
 * shallow: moto's SQS slows as a queue fills), `containers` real worker runtimes
 * (`createApplyPatchesRuntime`, each as its own Lambda container, fed by the faithful SQS poller)
 * apply them to the ClearTalk sandbox while it injects faults, and the end state is checked
 * against the plan. Needs `AWS_ENDPOINT_URL` (moto) in the environment.
 */

/** The workers' MAPPINGS_FILE: the new people's sources create contacts (`createIfUnresolved`). */
export const SOAK_MAPPINGS_FILE = fileURLToPath(new URL('./mappings.json', import.meta.url));

/** The issue's fault mix: 20% 503, 10% 429 with Retry-After, 5% slower than the client timeout, 2% resets. */
// The deployed worker's breaker cooldown (BREAKER_COOLDOWN_MS's default) and the patch queue's
// visibility timeout (6 x the worker's 60 s timeout, infra/resources.yml).
const DEPLOYED_COOLDOWN_MS = loadConfig({}).BREAKER_COOLDOWN_MS;
const DEPLOYED_VISIBILITY_MS = 360_000;

export const SOAK_FAULTS = { rate503: 0.2, rate429: 0.1, rateSlow: 0.05, rateReset: 0.02 } as const;

export interface SoakOptions extends SoakPlanOptions {
  /** Worker containers running side by side (Lambda scales a FIFO source across groups). @default 4 */
  readonly containers?: number;
  /** CLEARTALK_TIMEOUT_MS: small so a slow answer costs little. @default 300 */
  readonly clientTimeoutMs?: number;
  /** How late a slow answer comes (must exceed clientTimeoutMs). @default 700 */
  readonly slowMs?: number;
  /** `Retry-After` of the 429s, seconds. @default 1 */
  readonly retryAfterSeconds?: number;
  /** Overrides SOAK_FAULTS (rates only; slowMs/retryAfterSeconds/seed come from the options above). */
  readonly faults?: Pick<SandboxFaults, 'rate429' | 'rate500' | 'rate503' | 'rateSlow' | 'rateReset'>;
  /** MAX_RECEIVE_COUNT of the worker; the queue's redrive maxReceiveCount is this + 1. @default 5 */
  readonly maxReceiveCount?: number;
  /** CLEARTALK_MAX_ATTEMPTS. @default 6 */
  readonly maxAttempts?: number;
  /** The poller's retryVisibilitySeconds: failed records come back after this. @default 1 */
  readonly retryVisibilitySeconds?: number;
  /** The worker function's timeout (serverless.yml: 60 s). @default 30000 */
  readonly functionTimeoutMs?: number;
  /** A new wave is sent only while queue depth (visible + in flight) is at most this. @default 200 */
  readonly maxQueueDepth?: number;
  /** Gives up (and reports) after this long. @default 1_200_000 */
  readonly maxWallMs?: number;
  /** Progress lines. @default silent */
  readonly progress?: (line: string) => void;
  /** Passes the workers' own log lines through to the terminal. @default false */
  readonly echoWorkerLogs?: boolean;
}

export interface SoakCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface SoakReport {
  readonly ok: boolean;
  readonly checks: SoakCheck[];
  /** Label -> figure, in print order. */
  readonly figures: Array<[string, string | number]>;
  readonly wallMs: number;
  /** Probability arithmetic for the redrive setting, as printed. */
  readonly receiveBudget: string;
  /** For a few contacts whose state differs: their ClearTalk requests in order (synthetic values). */
  readonly diagnostics: string[];
}

interface DeadLetter {
  jobId: string | undefined;
  reason: string | undefined;
  status?: string | undefined;
  message?: string | undefined;
}

interface WorkerLogLine {
  message?: string;
  outcome?: string;
  action?: string;
  note?: string;
  receiveCount?: number;
  messageId?: string;
  jobId?: string;
  errorCode?: string;
  errorStatus?: number;
  deadLetter?: { errorReason?: string };
  dropped?: Array<{ field: string; reason: string }>;
  reason?: string;
  contactId?: string;
  created?: boolean;
}

/** Runs the soak; never throws for a failed check (they are in the report), only for set-up errors. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const started = Date.now();
  const progress = options.progress ?? (() => {});
  const plan = planSoak(options);
  const maxReceiveCount = options.maxReceiveCount ?? 5;
  const maxAttempts = options.maxAttempts ?? 6;
  const clientTimeoutMs = options.clientTimeoutMs ?? 300;
  const faults = options.faults ?? SOAK_FAULTS;
  const slowMs = options.slowMs ?? 700;
  if (slowMs <= clientTimeoutMs) throw new Error('slowMs must exceed clientTimeoutMs');

  const sandbox = await startSandbox({ port: 0, quiet: true, apiKey: `soak-${randomUUID()}` });
  const capture = captureWorkerLogs(options.echoWorkerLogs ?? false);
  const pollers: SqsPoller[] = [];
  try {
    sandbox.seed(plan.contacts);
    const prefix = `soak-${randomUUID().slice(0, 8)}`;
    const stack = await provisionStack({
      prefix,
      visibilityTimeoutSeconds: Math.ceil(((options.functionTimeoutMs ?? 30_000) * 2) / 1_000),
      redriveMaxReceiveCount: maxReceiveCount + 1,
    });
    const sqs = new SQSClient({});
    const secretId = `soak/${prefix}/cleartalk-api-key`;
    await new SecretsManagerClient({}).send(
      new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ value: sandbox.apiKey }) }),
    );

    // Links first, the way an operator would: `npm run links -- import links.csv`.
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
      marshallOptions: { removeUndefinedValues: true },
    });
    const { rows, bad } = parseLinksCsv(plan.linksCsv, 'US');
    const links = createLinkStore({ client: doc, tableName: stack.STATE_TABLE_NAME });
    const imported = await importLinks(rows, links);
    if (bad.length > 0 || imported.failed.length > 0) throw new Error('the soak links did not import');
    progress(
      `planned ${plan.counts.jobs} deliveries for ${plan.contacts.length} contacts in ${plan.waves.length} waves; ` +
        `${imported.imported} links imported`,
    );

    sandbox.setFaults({
      ...faults,
      slowMs,
      retryAfterSeconds: options.retryAfterSeconds ?? 1,
      seed: options.seed ?? 1,
    });
    const retryVisibilitySeconds = options.retryVisibilitySeconds ?? 1;
    const env: Record<string, string | undefined> = {
      ...process.env,
      ...stack,
      CLEARTALK_BASE_URL: sandbox.url,
      CLEARTALK_API_KEY_SECRET_ID: secretId,
      CLEARTALK_TIMEOUT_MS: String(clientTimeoutMs),
      CLEARTALK_MAX_ATTEMPTS: String(maxAttempts),
      MAX_RECEIVE_COUNT: String(maxReceiveCount),
      // The breaker's cooldown in the deployed proportion to the visibility timeout (30 s against
      // 360 s; README: keep BREAKER_COOLDOWN_MS under it), so a record handed back while the
      // breaker is open comes back after it has closed. With the default 30 s against this soak's
      // 1 s, one opening burned records' 6 receives within seconds and dead-lettered them as
      // retries-exhausted (1 of 5 soaks of 5,000 jobs on 2026-11-27: 74 such dead letters).
      BREAKER_COOLDOWN_MS: String(
        Math.max(
          1,
          Math.round((retryVisibilitySeconds * 1000 * DEPLOYED_COOLDOWN_MS) / DEPLOYED_VISIBILITY_MS),
        ),
      ),
      MAPPINGS_FILE: SOAK_MAPPINGS_FILE,
    };
    // moto's SQS is not thread-safe where it matters here: concurrent ReceiveMessage calls can
    // each hand out messages of one FIFO group (each reads the in-flight groups before the other
    // marks its messages), and DeleteMessage rebuilds the message list from a snapshot, so two
    // concurrent deletes (or a delete and a send) can resurrect a deleted message or drop a new one.
    // SQS does none of this; one call at a time on the queue restores its guarantees.
    const queue = serialiseQueueCalls(sqs);
    for (let c = 0; c < (options.containers ?? 4); c++) {
      // One runtime per container, as Lambda runs concurrent batches in separate containers.
      const runtime = createApplyPatchesRuntime(env);
      const handler = (event: SQSEvent, context: Context) =>
        runtime.worker.processBatch(
          event,
          Date.now() + context.getRemainingTimeInMillis() - runtime.safetyMs,
        );
      pollers.push(
        await startSqsPoller({
          sqs: queue,
          queueUrl: stack.PATCH_QUEUE_URL,
          handler,
          functionTimeoutMs: options.functionTimeoutMs ?? 30_000,
          retryVisibilitySeconds,
          waitTimeSeconds: 0,
          onError: (error) => progress(`poller: SQS error ${(error as Error).name}`),
        }),
      );
    }

    const deadline = started + (options.maxWallMs ?? 1_200_000);
    const maxDepth = options.maxQueueDepth ?? 200;
    let sent = 0;
    let timedOut = false;
    for (const wave of plan.waves) {
      while ((await queueDepth(sqs, stack.PATCH_QUEUE_URL)) > maxDepth) {
        if (Date.now() > deadline) break;
        await sleep(250);
      }
      if (Date.now() > deadline) {
        timedOut = true;
        break;
      }
      await sendWave(queue, stack.PATCH_QUEUE_URL, wave);
      sent += wave.length;
      if (sent % 1_000 < wave.length) progress(`sent ${sent}/${plan.counts.jobs} (${elapsed(started)})`);
    }
    // Drained when the queue shows nothing visible or in flight twice in a row.
    for (let empty = 0; empty < 2 && !timedOut; ) {
      if (Date.now() > deadline) timedOut = true;
      else if ((await queueDepth(sqs, stack.PATCH_QUEUE_URL)) === 0) empty++;
      else empty = 0;
      await sleep(500);
    }
    await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
    const wallMs = Date.now() - started;
    progress(`drained in ${elapsed(started)}; checking`);

    const deadLetters = await drainDeadLetters(sqs, stack.DEAD_LETTER_QUEUE_URL);
    const contacts = sandbox.contacts();
    const requests = sandbox.requests();
    const lines = capture.lines();
    // Each new person's keys, one lookup per key: which contact does the state table link it to?
    const personLinks = await Promise.all(
      plan.newPeople.map(async (person) => ({
        externalKey: await links.resolve({ externalKey: person.externalKey }),
        email: await links.resolve({ email: person.email }),
        ...(person.phone === undefined ? {} : { phone: await links.resolve({ phone: person.phone }) }),
      })),
    );
    return buildReport({
      plan,
      personLinks,
      contacts,
      requests,
      lines,
      logText: capture.text(),
      deadLetters,
      wallMs,
      timedOut,
      receiveBudget: describeReceiveBudget(faults, maxAttempts, maxReceiveCount, plan.counts.jobs),
    });
  } finally {
    await Promise.all(pollers.map((poller) => poller.stop()));
    capture.restore();
    await sandbox.stop();
  }
}

/** The contact id each key of a new person links to (undefined: no link). */
type PersonLinks = Partial<Record<'externalKey' | 'email' | 'phone', string | undefined>>;

function buildReport(input: {
  plan: ReturnType<typeof planSoak>;
  personLinks: PersonLinks[];
  contacts: Contact[];
  requests: ReturnType<Awaited<ReturnType<typeof startSandbox>>['requests']>;
  lines: WorkerLogLine[];
  logText: string;
  deadLetters: DeadLetter[];
  wallMs: number;
  timedOut: boolean;
  receiveBudget: string;
}): SoakReport {
  const { plan, lines, requests } = input;
  const checks: SoakCheck[] = [];
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });

  check('queue drained in time', !input.timedOut, input.timedOut ? 'gave up at maxWallMs' : 'yes');

  // 1. Final state = the latest change of every field; the other source's keys intact.
  const byId = new Map(input.contacts.map((contact) => [contact.id, contact]));
  const mismatches: string[] = [];
  const mismatched = new Set<number>();
  let otherSourceIntact = 0;
  let fieldsChecked = 0;
  for (const want of plan.expected) {
    const have = byId.get(want.id);
    fieldsChecked += SOAK_FIELDS.length + Object.keys(want.customField).length;
    if (!have) {
      mismatches.push(`contact ${want.id} missing`);
      continue;
    }
    const differences = diffContact(String(want.id), want, have);
    mismatches.push(...differences);
    if (differences.length > 0) mismatched.add(want.id);
    if (otherKeysIntact(want, (have.customField ?? {}) as Record<string, unknown>)) otherSourceIntact++;
  }
  check(
    'final state = latest change per contact and field',
    mismatches.length === 0,
    mismatches.length === 0
      ? `${plan.expected.length} contacts, ${fieldsChecked} fields equal`
      : `${mismatches.length} differ, e.g. ${mismatches.slice(0, 5).join('; ')}`,
  );
  check(
    'custom fields set by another source intact',
    otherSourceIntact === plan.expected.length,
    `${otherSourceIntact}/${plan.expected.length} contacts`,
  );

  // 1b. New people (createIfUnresolved): one created contact each, found by its unique email, with
  // the latest change of every field, and every key the person's jobs carried linked to it.
  const seeded = new Set(plan.contacts.map((contact) => contact.id));
  const created = input.contacts.filter((contact) => !seeded.has(contact.id));
  const byEmail = new Map<string, Contact[]>();
  for (const contact of created) {
    const list = byEmail.get(contact.email ?? '') ?? [];
    list.push(contact);
    byEmail.set(contact.email ?? '', list);
  }
  const people = plan.newPeople;
  const notOne = people.flatMap((person, n) => {
    const count = byEmail.get(person.email)?.length ?? 0;
    return count === 1 ? [] : [`new${n}: ${count} contacts`];
  });
  const personEmails = new Set(people.map((person) => person.email));
  const strays = created.filter((contact) => !personEmails.has(contact.email ?? ''));
  check(
    'one contact created per new person',
    notOne.length === 0 && strays.length === 0 && created.length === people.length,
    `${created.length} contacts created for ${people.length} new people` +
      (notOne.length > 0 ? `; ${notOne.slice(0, 5).join(', ')}` : '') +
      (strays.length > 0
        ? `; ${strays.length} not a new person's (ids ${strays
            .slice(0, 5)
            .map((c) => c.id)
            .join(', ')})`
        : ''),
  );
  const personMismatches: string[] = [];
  const mismatchedPeople = new Set<number>();
  let personFields = 0;
  people.forEach((person, n) => {
    personFields += Object.keys(person.fields).length + Object.keys(person.customField).length;
    const [have] = byEmail.get(person.email) ?? [];
    if (!have) return;
    const differences = diffContact(`new${n}(${have.id})`, person, have, ['email']);
    personMismatches.push(...differences);
    if (differences.length > 0) mismatchedPeople.add(n);
  });
  const found = people.filter((person) => byEmail.has(person.email)).length;
  check(
    'created contacts = latest change per new person and field',
    personMismatches.length === 0 && found === people.length,
    personMismatches.length === 0
      ? `${found} of ${people.length} people found, ${personFields} fields equal`
      : `${personMismatches.length} differ, e.g. ${personMismatches.slice(0, 5).join('; ')}`,
  );
  const badLinks: string[] = [];
  let keysChecked = 0;
  people.forEach((person, n) => {
    const contactId = byEmail.get(person.email)?.[0]?.id;
    for (const [kind, linked] of Object.entries(input.personLinks[n] ?? {})) {
      keysChecked++;
      if (contactId === undefined || linked !== String(contactId))
        badLinks.push(`new${n}.${kind} -> ${linked ?? 'no link'} (contact ${contactId ?? 'none'})`);
    }
  });
  check(
    "new people's keys link to their contact",
    badLinks.length === 0,
    `${keysChecked - badLinks.length} of ${keysChecked} keys (external key, email, phone)` +
      (badLinks.length > 0 ? `; ${badLinks.slice(0, 5).join(', ')}` : ''),
  );

  // 2. Dead letters: exactly the planted permanent jobs, each with its permanent reason.
  const transient = input.deadLetters.filter(
    (d) => d.reason === undefined || d.reason === 'retries-exhausted',
  );
  const unexpected = input.deadLetters.filter(
    (d) => d.jobId === undefined || plan.permanent.get(d.jobId) !== d.reason,
  );
  const got = new Set(input.deadLetters.map((d) => d.jobId));
  const missing = [...plan.permanent.keys()].filter((jobId) => !got.has(jobId));
  check(
    'no dead letter for a transient fault',
    transient.length === 0,
    `${transient.length} retries-exhausted / without a reason`,
  );
  check(
    'dead letters = the planted permanent jobs, right reasons',
    unexpected.length === 0 && missing.length === 0 && input.deadLetters.length === plan.permanent.size,
    `${input.deadLetters.length} dead letters (${countBy(input.deadLetters.map((d) => d.reason ?? 'none'))}); ` +
      `${unexpected.length} unexpected, ${missing.length} planted ones missing` +
      unexpected
        .slice(0, 3)
        .map((d) => `; ${d.jobId}: ${d.reason} ${d.status ?? ''} ${d.message ?? ''}`)
        .join(''),
  );

  // 3. Every valid job acknowledged once; every redelivery suppressed.
  const jobLines = lines.filter((line) => line.message === 'patch job');
  const acknowledged = jobLines.filter((l) => l.action === 'acknowledged');
  const outcomes = countMap(acknowledged.map((l) => l.outcome ?? '?'));
  const handedBack = jobLines.filter((l) => l.action === 'handed-back');
  const uniqueValid = plan.counts.valid;
  const validIds = new Set(
    plan.waves.flat().flatMap((d) => (d.kind === 'first' && !plan.permanent.has(d.jobId) ? [d.jobId] : [])),
  );
  const done = countMap(
    acknowledged.flatMap((l) => (l.outcome === 'applied' || l.outcome === 'skipped' ? [l.jobId ?? '?'] : [])),
  );
  const notOnce = [...new Set([...validIds, ...done.keys()])].filter(
    (id) => done.get(id) !== 1 || !validIds.has(id),
  );
  check(
    'each valid job applied or skipped exactly once',
    notOnce.length === 0 && validIds.size === uniqueValid,
    `${validIds.size - notOnce.filter((id) => validIds.has(id)).length} of ${uniqueValid}` +
      (notOnce.length > 0 ? `; not once: ${notOnce.slice(0, 5).join(', ')}` : ''),
  );
  // Besides the planted copies, SQS redelivers a record the worker handed back after its change had
  // been recorded (e.g. a state-table call that failed after the write): that copy is a duplicate too.
  const duplicates = outcomes.get('duplicate') ?? 0;
  check(
    'each redelivery suppressed as a duplicate',
    duplicates >= plan.counts.redeliveries && duplicates - plan.counts.redeliveries <= handedBack.length,
    `${duplicates} duplicates = ${plan.counts.redeliveries} planted redeliveries + ` +
      `${duplicates - plan.counts.redeliveries} SQS redeliveries of handed-back records already recorded`,
  );
  const leaked = plan.valueSample.filter((value) => input.logText.includes(value));
  check(
    'worker logs carry no contact values',
    leaked.length === 0,
    `${leaked.length} of ${plan.valueSample.length} sampled values found`,
  );

  const patches = requests.filter((r) => r.method === 'PATCH');
  const gets = requests.filter((r) => r.method === 'GET');
  const posts = requests.filter((r) => r.method === 'POST');
  const newPersonJobIds = new Set(people.flatMap((person) => person.jobIds));
  const isNewPersonJob = (jobId: string | undefined) => jobId !== undefined && newPersonJobIds.has(jobId);
  const dropped = jobLines.flatMap((l) => (l.action === 'acknowledged' ? (l.dropped ?? []) : []));
  const clientRetries = lines.filter((l) => l.message === 'ClearTalk retry');
  const figures: Array<[string, string | number]> = [
    ['deliveries sent (jobs + redeliveries + planted)', plan.counts.jobs],
    [
      'valid jobs / redeliveries / stale-planted / no-op repeats',
      `${uniqueValid} / ${plan.counts.redeliveries} / ${plan.counts.stale} / ${plan.counts.noOpRepeats}`,
    ],
    ['jobs by source', countBy(Object.entries(plan.counts.bySource).flatMap(([k, n]) => Array(n).fill(k)))],
    ['jobs matched by externalKey (via imported links)', plan.counts.byExternalKey],
    ['jobs naming a contact id that other jobs reach by externalKey', plan.counts.crossGroup],
    ['contacts', plan.contacts.length],
    [
      'new people / their jobs / sent after a newer job of theirs',
      `${people.length} / ${plan.counts.newPersonJobs} / ${plan.counts.newPersonOutOfOrder}`,
    ],
    [
      'POST /contacts calls (all / 2xx / idempotent replays; faults injected)',
      `${posts.length} / ${posts.filter((r) => r.status >= 200 && r.status < 300).length} / ${posts.filter((r) => r.fault === 'replay').length}; ` +
        countBy(posts.flatMap((r) => (r.fault && r.fault !== 'replay' ? [r.fault] : []))),
    ],
    [
      'new-person jobs: created / applied to the contact / handed back contact-busy',
      `${acknowledged.filter((l) => l.created === true).length} / ${
        acknowledged.filter((l) => l.outcome === 'applied' && l.created === false && isNewPersonJob(l.jobId))
          .length
      } / ${handedBack.filter((l) => l.errorCode === 'contact-busy' && isNewPersonJob(l.jobId)).length}`,
    ],
    [
      'PATCH calls (all / 2xx / idempotent replays)',
      `${patches.length} / ${patches.filter((r) => r.status >= 200 && r.status < 300).length} / ${patches.filter((r) => r.fault === 'replay').length}`,
    ],
    ['GET calls (custom-field merge)', gets.length],
    ['faults injected', countBy(requests.flatMap((r) => (r.fault && r.fault !== 'replay' ? [r.fault] : [])))],
    [
      'client retries (within a call)',
      `${clientRetries.length} (${countBy(clientRetries.map((l) => l.reason ?? '?'))})`,
    ],
    [
      'records handed back to SQS (redelivered later)',
      `${handedBack.length} (${countBy(
        handedBack.map((l) => [l.note, l.errorCode, l.errorStatus].filter((x) => x !== undefined).join(' ')),
      )})`,
    ],
    [
      'outcomes acknowledged',
      countBy(jobLines.filter((l) => l.action === 'acknowledged').map((l) => l.outcome ?? '?')),
    ],
    ['duplicates suppressed (ledger)', outcomes.get('duplicate') ?? 0],
    ['stale fields dropped', dropped.filter((d) => d.reason === 'stale').length],
    ['no-op fields dropped', dropped.filter((d) => d.reason === 'no-op').length],
    ['jobs skipped without a request', outcomes.get('skipped') ?? 0],
    ['max receive count seen', Math.max(0, ...jobLines.map((l) => l.receiveCount ?? 1))],
    ['dead letters', input.deadLetters.length],
    [
      'wall time',
      `${(input.wallMs / 1_000).toFixed(1)} s (${(plan.counts.jobs / (input.wallMs / 1_000)).toFixed(1)} deliveries/s)`,
    ],
  ];
  // Jobs suppressed as duplicates more often than they were planted again: their story, for operators.
  const planted = countMap(plan.waves.flat().flatMap((d) => (d.kind === 'redelivery' ? [d.jobId] : [])));
  const duplicateCounts = countMap(
    acknowledged.flatMap((l) => (l.outcome === 'duplicate' ? [l.jobId ?? '?'] : [])),
  );
  const extraDuplicates = [...duplicateCounts]
    .filter(([id, n]) => n > (planted.get(id) ?? 0))
    .map(([id]) => id);
  const storyIds = [
    ...extraDuplicates.slice(0, 3),
    ...notOnce.slice(0, 3),
    ...unexpected.slice(0, 3).flatMap((d) => (d.jobId ? [d.jobId] : [])),
  ];
  const duplicateStories = [...new Set(storyIds)].map((jobId) => {
    const story = jobLines
      .filter((l) => l.jobId === jobId)
      .map(
        (l) =>
          `  receive ${l.receiveCount} message ${String(l.messageId).slice(0, 8)}: ${l.outcome} ${l.action}` +
          `${l.note ? ` (${l.note}${l.errorCode ? ` ${l.errorCode}` : ''})` : ''}`,
      );
    // The job's PATCHes and every other request on its contact meanwhile (synthetic values).
    const own = requests.filter((r) => isJobKey(r.idempotencyKey, jobId));
    const path = own[0]?.path;
    const from = own[0]?.at ?? 0;
    const to = own.at(-1)?.at ?? 0;
    const calls = requests
      .filter(
        (r) => isJobKey(r.idempotencyKey, jobId) || (r.path === path && r.at >= from - 2_000 && r.at <= to),
      )
      .map(
        (r) =>
          `  ${new Date(r.at).toISOString().slice(14, 23)} ${r.method} ${r.status}${r.fault ? ` ${r.fault}` : ''} ` +
          `key=${r.idempotencyKey ?? '-'} ${r.body === undefined ? '' : JSON.stringify(r.body)}`,
      );
    return [`job ${jobId}:`, ...story, ...calls].join('\n');
  });
  const diagnostics = [...mismatched].slice(0, 3).map((id) => {
    const trail = requests
      .filter((r) => r.path === `/contacts/${id}`)
      .map((r) => {
        const at = new Date(r.at).toISOString().slice(14, 23);
        return `  ${at} ${r.method} ${r.status}${r.fault ? ` ${r.fault}` : ''} key=${r.idempotencyKey ?? '-'} ${r.method === 'GET' ? '' : JSON.stringify(r.body)}`;
      });
    return [`contact ${id}:`, ...trail].join('\n');
  });
  diagnostics.push(...duplicateStories);
  // A new person whose contacts or fields or links are wrong: every job's log story, then every
  // request on their contacts and every POST of their jobs (synthetic values).
  const troubled = new Set([
    ...mismatchedPeople,
    ...people.flatMap((person, n) => ((byEmail.get(person.email)?.length ?? 0) === 1 ? [] : [n])),
    ...badLinks.map((text) => Number(/^new(\d+)/.exec(text)?.[1])),
  ]);
  for (const n of [...troubled].slice(0, 3)) {
    const person = people[n] as NewPerson;
    const ids = new Set((byEmail.get(person.email) ?? []).map((contact) => `/contacts/${contact.id}`));
    const story = jobLines
      .filter((l) => l.jobId !== undefined && person.jobIds.includes(l.jobId))
      .map(
        (l) =>
          `  ${l.jobId} receive ${l.receiveCount} message ${String(l.messageId).slice(0, 8)}: ${l.outcome} ${l.action}` +
          `${l.created ? ' created' : ''}${l.contactId ? ` contact ${l.contactId}` : ''}` +
          `${l.note ? ` (${l.note}${l.errorCode ? ` ${l.errorCode}` : ''})` : ''}` +
          `${l.dropped ? ` dropped ${l.dropped.map((d) => `${d.field}:${d.reason}`).join(',')}` : ''}`,
      );
    const calls = requests
      .filter(
        (r) =>
          ids.has(r.path) ||
          (r.method === 'POST' && person.jobIds.some((jobId) => r.idempotencyKey === `create:${jobId}`)),
      )
      .map(
        (r) =>
          `  ${new Date(r.at).toISOString().slice(14, 23)} ${r.method} ${r.path} ${r.status}${r.fault ? ` ${r.fault}` : ''} ` +
          `key=${r.idempotencyKey ?? '-'} ${r.method === 'GET' ? '' : JSON.stringify(r.body)}`,
      );
    diagnostics.push(
      [
        `new person new${n} (jobs ${person.jobIds.join(', ')}; links ${JSON.stringify(input.personLinks[n])}):`,
        ...story,
        ...calls,
      ].join('\n'),
    );
  }
  return {
    ok: checks.every((c) => c.ok),
    checks,
    figures,
    wallMs: input.wallMs,
    receiveBudget: input.receiveBudget,
    diagnostics,
  };
}

/**
 * Why the redrive cannot be exhausted by transient faults at these rates: a call fails only when
 * all its attempts fail (f^A), a job makes at most 2 calls (GET + PATCH), and a record also fails a
 * receive when an earlier record of its group in the same batch (at most 9) failed.
 */
export function describeReceiveBudget(
  faults: NonNullable<SoakOptions['faults']>,
  maxAttempts: number,
  maxReceiveCount: number,
  jobs: number,
): string {
  const f =
    (faults.rate429 ?? 0) +
    (faults.rate500 ?? 0) +
    (faults.rate503 ?? 0) +
    (faults.rateSlow ?? 0) +
    (faults.rateReset ?? 0);
  const call = f ** maxAttempts;
  const job = 1 - (1 - call) ** 2;
  const receive = 1 - (1 - job) ** 10;
  const exhausted = receive ** maxReceiveCount;
  return (
    `fault share per request f=${f.toFixed(2)}; a call fails after ${maxAttempts} attempts with p=f^${maxAttempts}=${call.toExponential(2)}; ` +
    `a job (<= 2 calls) fails a receive with p<=${job.toExponential(2)}, or <=${receive.toExponential(2)} counting hand-backs ` +
    `behind a failed record of its group; retries-exhausted needs ${maxReceiveCount} failed receives in a row: ` +
    `p<=${exhausted.toExponential(2)} per job, <=${(exhausted * jobs).toExponential(2)} expected over ${jobs} jobs ` +
    `(redrive maxReceiveCount ${maxReceiveCount + 1} is only the crash backstop)`
  );
}

/** `label.field: have != expected want` for each SOAK_FIELD (plus `extraFields`) and custom field that differs. */
function diffContact(
  label: string,
  want: Pick<ExpectedContact, 'fields' | 'customField'>,
  have: Contact,
  extraFields: readonly string[] = [],
): string[] {
  const differences: string[] = [];
  const fields = have as unknown as Record<string, unknown>;
  for (const field of [...SOAK_FIELDS, ...extraFields]) {
    if (fields[field] !== want.fields[field]) {
      differences.push(`${label}.${field}: ${show(fields[field])} != expected ${show(want.fields[field])}`);
    }
  }
  const custom = (have.customField ?? {}) as Record<string, unknown>;
  for (const key of new Set([...Object.keys(custom), ...Object.keys(want.customField)])) {
    if (custom[key] !== want.customField[key]) {
      differences.push(
        `${label}.customField.${key}: ${show(custom[key])} != expected ${show(want.customField[key])}`,
      );
    }
  }
  return differences;
}

function otherKeysIntact(want: ExpectedContact, custom: Record<string, unknown>): boolean {
  return Object.entries(want.customField)
    .filter(([key]) => key.startsWith('crm_'))
    .every(([key, value]) => custom[key] === value);
}

async function sendWave(
  sqs: Pick<SQSClient, 'send'>,
  queueUrl: string,
  wave: readonly SoakDelivery[],
): Promise<void> {
  for (let i = 0; i < wave.length; i += 10) {
    let entries: SendMessageBatchRequestEntry[] = wave.slice(i, i + 10).map((d, n) => ({
      Id: String(n),
      MessageBody: d.body,
      MessageGroupId: d.groupId,
      MessageDeduplicationId: d.deduplicationId,
    }));
    for (let attempt = 1; entries.length > 0; attempt++) {
      const out = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
      const failed = new Set((out.Failed ?? []).map((f) => f.Id));
      entries = entries.filter((e) => failed.has(e.Id));
      if (entries.length > 0 && attempt >= 5) throw new Error(`SQS refused ${entries.length} soak messages`);
    }
  }
}

/**
 * The SQS client with every call that reads or changes messages (receive, delete, visibility,
 * send) queued one behind the other (see the call site). The pollers receive without long polling
 * (moto's long poll keeps the in-flight groups it saw at its start, so it would sit out its wait
 * while another poller frees a group, holding the queue); an empty receive instead holds the queue
 * for `idleMs`, so idle pollers ask moto a few times a second, not in a spin.
 */
function serialiseQueueCalls(sqs: SQSClient, idleMs = 100): Pick<SQSClient, 'send'> {
  let tail: Promise<unknown> = Promise.resolve();
  const send = ((command: unknown, options?: unknown) => {
    const direct = () => (sqs.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
    if (!SERIALISED.some((kind) => command instanceof kind)) return direct();
    const run = async () => {
      const out = (await direct()) as { Messages?: unknown[] };
      if (command instanceof ReceiveMessageCommand && !out.Messages?.length) await sleep(idleMs);
      return out;
    };
    const result = tail.then(run, run);
    tail = result.catch(() => undefined);
    return result;
  }) as SQSClient['send'];
  return { send };
}

const SERIALISED = [
  ReceiveMessageCommand,
  DeleteMessageBatchCommand,
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
] as const;

/** Reads and deletes every dead letter (deleting lets FIFO release the next of the same group). */
async function drainDeadLetters(sqs: SQSClient, queueUrl: string): Promise<DeadLetter[]> {
  return (await drainQueue(sqs, queueUrl)).map((message) => {
    let jobId: string | undefined;
    try {
      const id = (JSON.parse(message.Body ?? '') as { jobId?: unknown }).jobId;
      if (typeof id === 'string') jobId = id;
    } catch {
      // A body that is not JSON has no jobId: it counts as unexpected.
    }
    const attributes = message.MessageAttributes ?? {};
    return {
      jobId,
      reason: attributes.errorReason?.StringValue,
      status: attributes.errorStatus?.StringValue,
      message: attributes.errorMessage?.StringValue,
    };
  });
}

/**
 * Collects the workers' JSON log lines (lib/observability.ts writes every level to stdout; stderr
 * is watched too) so the report can count outcomes; everything else still reaches the terminal.
 */
function captureWorkerLogs(echo: boolean) {
  const parsed: WorkerLogLine[] = [];
  const chunks: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const intercept = (stream: NodeJS.WriteStream, original: typeof process.stdout.write) =>
    function write(this: unknown, chunk: unknown, ...rest: unknown[]): boolean {
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
      if (text.startsWith('{') && /"(level|_aws)"/.test(text)) {
        chunks.push(text);
        for (const line of text.split('\n')) {
          if (!line.startsWith('{')) continue;
          try {
            const data = JSON.parse(line) as WorkerLogLine & { _aws?: unknown };
            if (data._aws === undefined) parsed.push(data);
          } catch {
            // Not one JSON line: kept as text only.
          }
        }
        if (!echo) {
          const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
          callback?.();
          return true;
        }
      }
      return (original as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    };
  process.stdout.write = intercept(process.stdout, originals.out) as typeof process.stdout.write;
  process.stderr.write = intercept(process.stderr, originals.err) as typeof process.stderr.write;
  return {
    lines: () => parsed,
    text: () => chunks.join(''),
    restore: () => {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    },
  };
}

/** Prints the report as a two-column table plus the checks. */
export function formatSoakReport(report: SoakReport): string {
  const width = Math.max(
    ...report.figures.map(([label]) => label.length),
    ...report.checks.map((c) => c.name.length),
  );
  const rows = [
    '| figure | value |',
    '|---|---|',
    ...report.figures.map(([label, value]) => `| ${label.padEnd(width)} | ${value} |`),
    '',
    '| check | result | detail |',
    '|---|---|---|',
    ...report.checks.map((c) => `| ${c.name.padEnd(width)} | ${c.ok ? 'PASS' : 'FAIL'} | ${c.detail} |`),
    '',
    `Redrive budget: ${report.receiveBudget}`,
    ...(report.diagnostics.length > 0 ? ['', 'Diagnostics:', ...report.diagnostics] : []),
    `Soak ${report.ok ? 'PASSED' : 'FAILED'}`,
  ];
  return `${rows.join('\n')}\n`;
}

function countMap(values: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const value of values) map.set(value, (map.get(value) ?? 0) + 1);
  return map;
}

function countBy(values: readonly string[]): string {
  const map = countMap(values);
  if (map.size === 0) return 'none';
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([key, n]) => `${key} ${n}`)
    .join(', ');
}

function show(value: unknown): string {
  return value === undefined ? 'absent' : JSON.stringify(value);
}

function elapsed(started: number): string {
  return `${((Date.now() - started) / 1_000).toFixed(0)} s`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The worker's PATCH keys are `<jobId>#<body digest>` (lib/jobs/apply.ts, idempotencyKeyFor). */
function isJobKey(key: string | undefined, jobId: string): boolean {
  return key === jobId || (key?.startsWith(`${jobId}#`) ?? false);
}
