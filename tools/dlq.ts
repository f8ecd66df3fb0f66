/**
 * `npm run dlq -- list | show <messageId> [--show-values] | redrive [--dry-run] [--reason <code>] [--show-values] | delete <messageId>`
 *
 * Inspects the dead-letter queue, sends dead letters back to the patch queue, and deletes one an
 * operator has dealt with (a body that is no PatchJob, e.g. a Shopify EventBridge event
 * dead-lettered whole, can never be redriven; until it is deleted the dead-letter alarm stays on).
 * Uses the contract variables (DEAD_LETTER_QUEUE_URL, PATCH_QUEUE_URL; for `--dry-run` also
 * STATE_TABLE_NAME, CLEARTALK_API_KEY_SECRET_ID, CLEARTALK_BASE_URL) and the AWS SDK's own
 * settings. `--dry-run` prints, per message, the field-level diff the worker would apply now:
 * field names with markers (`+` new, `~` changed, `=` already so, `-` dropped as stale/no-op).
 * Contact values (emails, phones, names, every value in `patch` and `match`) are printed only
 * with `--show-values`, because terminal output tends to end up in tickets: without it `show`
 * prints the job with each value replaced by its length (ids, jobId, source, occurredAt, field
 * names and `match.externalKey`, an id, stay), and the message group only when it is an id (for
 * a job matched by email it is the email). Exit codes: 0 done, 1 failed (unknown message id, a
 * configuration problem, an AWS error), 2 bad usage.
 *
 * SQS FIFO hides the rest of a message group while one of its messages is in flight, so `list`
 * shows at most the first 10 messages of each group; `redrive` deletes what it sent back and so
 * reaches every message of a group, except those behind a message it skipped (run it again).
 */
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createLinkStore, type LinkStore, redactedAfter } from '../lib/aws/links.js';
import { createSecretCache } from '../lib/aws/secrets.js';
import { createStateStore, type StateStore } from '../lib/aws/state-store.js';
import { type ClearTalkClient, createClearTalkClient } from '../lib/cleartalk/client.js';
import type { Contact } from '../lib/cleartalk/schemas.js';
import { loadConfig } from '../lib/config.js';
import { ConfigError, SyncError } from '../lib/errors.js';
import { sha256Hex } from '../lib/hash.js';
import { MAX_OCCURRED_AHEAD_MS, parsePatchJob } from '../lib/jobs/apply.js';
import { contactKey, type PatchJob } from '../lib/jobs/patch-job.js';
import { planPatch } from '../lib/jobs/plan-patch.js';
import { loadMappingConfig, sourcePolicy } from '../lib/sources/mapping-config.js';

type Sqs = Pick<SQSClient, 'send'>;

/** A message on the dead-letter queue, with its reason attributes. */
export interface DeadLetter {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  readonly groupId: string | undefined;
  readonly reason: string | undefined;
  readonly status: number | undefined;
  readonly errorMessage: string | undefined;
  /** When it was dead-lettered (ISO). */
  readonly sentAt: string | undefined;
  readonly jobId: string | undefined;
  readonly source: string | undefined;
}

function toDeadLetter(message: Message): DeadLetter {
  const attributes = message.MessageAttributes ?? {};
  const body = message.Body ?? '';
  const parsed = parsePatchJob(body);
  const sent = Number(message.Attributes?.SentTimestamp);
  const status = Number(attributes.errorStatus?.StringValue);
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body,
    groupId: message.Attributes?.MessageGroupId,
    reason: attributes.errorReason?.StringValue,
    status: Number.isFinite(status) && attributes.errorStatus ? status : undefined,
    errorMessage: attributes.errorMessage?.StringValue,
    sentAt: Number.isFinite(sent) ? new Date(sent).toISOString() : undefined,
    jobId: parsed.ok ? parsed.job.jobId : undefined,
    source: parsed.ok ? parsed.job.source : undefined,
  };
}

/**
 * Receives every dead letter it can reach, hiding each for `visibilityTimeoutSeconds` while the
 * caller works; stops after two empty receives in a row.
 */
async function* receiveAll(
  sqs: Sqs,
  queueUrl: string,
  visibilityTimeoutSeconds: number,
  waitTimeSeconds: number,
): AsyncGenerator<DeadLetter> {
  const seen = new Set<string>();
  for (let empty = 0; empty < 2; ) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: visibilityTimeoutSeconds,
        // A short poll can miss messages on real SQS: the second try long-polls briefly.
        WaitTimeSeconds: empty === 0 ? 0 : waitTimeSeconds,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const fresh = (out.Messages ?? []).filter((message) => !seen.has(message.MessageId ?? ''));
    if (fresh.length === 0) {
      empty++;
      continue;
    }
    empty = 0;
    for (const message of fresh) {
      seen.add(message.MessageId ?? '');
      yield toDeadLetter(message);
    }
  }
}

/** Makes received messages visible again at once. */
async function release(sqs: Sqs, queueUrl: string, letters: readonly DeadLetter[]): Promise<void> {
  for (let start = 0; start < letters.length; start += 10) {
    const entries = letters.slice(start, start + 10).map((letter, i) => ({
      Id: String(i),
      ReceiptHandle: letter.receiptHandle,
      VisibilityTimeout: 0,
    }));
    await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
}

/**
 * Deletes the dead letter with this SQS message id (the others are made visible again).
 * @returns false when no reachable dead letter has that id
 */
export async function deleteDeadLetter(
  sqs: Sqs,
  deadLetterQueueUrl: string,
  messageId: string,
  options: { waitTimeSeconds?: number } = {},
): Promise<boolean> {
  const others: DeadLetter[] = [];
  let found: DeadLetter | undefined;
  // Read to the end (no early exit): letters received with the one sought must be released too.
  for await (const letter of receiveAll(sqs, deadLetterQueueUrl, 30, options.waitTimeSeconds ?? 1)) {
    if (letter.messageId === messageId) found = letter;
    else others.push(letter);
  }
  if (found) {
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: deadLetterQueueUrl, ReceiptHandle: found.receiptHandle }),
    );
  }
  await release(sqs, deadLetterQueueUrl, others);
  return found !== undefined;
}

/** Lists the dead letters (then makes them visible again). */
export async function listDeadLetters(
  sqs: Sqs,
  deadLetterQueueUrl: string,
  options: { waitTimeSeconds?: number } = {},
): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  for await (const letter of receiveAll(sqs, deadLetterQueueUrl, 30, options.waitTimeSeconds ?? 1)) {
    letters.push(letter);
  }
  await release(sqs, deadLetterQueueUrl, letters);
  return letters;
}

export interface RedriveOptions {
  readonly sqs: Sqs;
  readonly deadLetterQueueUrl: string;
  readonly queueUrl: string;
  /** Only dead letters with this `errorReason`. */
  readonly reason?: string;
  /** Print what would happen; send and delete nothing. */
  readonly dryRun?: boolean;
  /** The field-level diff of a job, for `--dry-run`. */
  readonly preview?: (job: PatchJob) => Promise<string[]>;
  readonly print?: (line: string) => void;
  /** Long-poll of the closing empty receive. @default 1 */
  readonly waitTimeSeconds?: number;
}

export interface RedriveReport {
  readonly redriven: number;
  /** Matching, but not a valid PatchJob (fix the body first); left on the DLQ. */
  readonly invalid: number;
  /** Not matching `reason`; left on the DLQ. */
  readonly skipped: number;
}

/**
 * Sends dead letters back to the patch queue (group = the job's contact key, a fresh
 * deduplication id so SQS does not drop it as a repeat of the original) and deletes each from
 * the DLQ only after the send succeeded.
 */
export async function redriveDeadLetters(options: RedriveOptions): Promise<RedriveReport> {
  const { sqs } = options;
  const print = options.print ?? (() => {});
  const keep: DeadLetter[] = [];
  let redriven = 0;
  let invalid = 0;
  let skipped = 0;
  for await (const letter of receiveAll(sqs, options.deadLetterQueueUrl, 60, options.waitTimeSeconds ?? 1)) {
    if (options.reason !== undefined && letter.reason !== options.reason) {
      skipped++;
      keep.push(letter);
      continue;
    }
    const parsed = parsePatchJob(letter.body);
    const label = `${letter.messageId} ${letter.reason ?? '-'} ${letter.jobId ?? '(no jobId)'}`;
    if (!parsed.ok) {
      invalid++;
      keep.push(letter);
      print(`${label}: not redriven, ${parsed.message}`);
      continue;
    }
    if (options.dryRun) {
      print(`${label}: would redrive`);
      for (const line of (await options.preview?.(parsed.job)) ?? []) print(`    ${line}`);
      keep.push(letter);
      redriven++;
      continue;
    }
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: options.queueUrl,
        MessageBody: letter.body,
        MessageGroupId: contactKey(parsed.job),
        MessageDeduplicationId: sha256Hex(`redrive:${letter.messageId}`),
      }),
    );
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: options.deadLetterQueueUrl, ReceiptHandle: letter.receiptHandle }),
    );
    redriven++;
    print(`${label}: redriven`);
  }
  await release(sqs, options.deadLetterQueueUrl, keep);
  return { redriven, invalid, skipped };
}

/**
 * The `--dry-run` diff of one job against the state table and the contact as ClearTalk has it
 * now: what the worker would send, keep or drop.
 */
export function createRedrivePreview(deps: {
  clearTalk: Pick<ClearTalkClient, 'getContact'>;
  state: Pick<StateStore, 'isApplied' | 'getFieldVersions'>;
  links: Pick<LinkStore, 'lookup'>;
  /** The mapping configuration's worker policy per source. @default create nothing */
  policy?: (source: string) => { createIfUnresolved: boolean };
  showValues?: boolean;
  /** @default Date.now */
  now?: () => number;
}): (job: PatchJob) => Promise<string[]> {
  const show = (value: unknown) =>
    value === undefined || value === null ? '(unset)' : JSON.stringify(value);
  const now = deps.now ?? Date.now;
  return async (job) => {
    // The worker's first check after parsing: such a job is dead-lettered again, nothing applied.
    const aheadMs = Date.parse(job.occurredAt) - now();
    if (aheadMs > MAX_OCCURRED_AHEAD_MS) {
      return [
        `invalid: occurredAt is ${Math.round(aheadMs / 3_600_000)} h ahead of the clock (the worker accepts at most ${MAX_OCCURRED_AHEAD_MS / 3_600_000} h); it would be dead-lettered again (invalid-job)`,
      ];
    }
    if (await deps.state.isApplied(job.jobId))
      return ['duplicate: this jobId was applied already; the worker skips it'];
    const found = job.contactId === undefined && job.match ? await deps.links.lookup(job.match) : {};
    const contactId = job.contactId ?? found.contactId;
    if (contactId === undefined) {
      // As the worker: a change from before its customer was redacted is skipped, not retried.
      if (redactedAfter(found.redactedAt, job.occurredAt)) {
        return [
          'redacted: the customer was redacted after this change; the worker skips it (no request, no link, no dead letter)',
        ];
      }
      if (deps.policy?.(job.source).createIfUnresolved && job.match) {
        const fields = Object.keys(job.patch).join(', ');
        return [
          `unresolved: no link for this match yet; source ${job.source} creates contacts, so the worker would POST /contacts with ${fields} and link it`,
        ];
      }
      return [
        'unresolved: no link for this match yet; it would be dead-lettered again (npm run links -- import)',
      ];
    }
    const lines = [`contact ${contactId}${job.contactId ? '' : ' (through the link table)'}`];
    let contact: Contact | undefined;
    try {
      contact = await deps.clearTalk.getContact(contactId);
    } catch (error) {
      lines.push(
        `cannot read the contact now (${error instanceof SyncError ? error.code : 'error'}): markers assume unset`,
      );
    }
    const stored = await deps.state.getFieldVersions(contactId);
    const plan = planPatch({
      patch: job.patch,
      occurredAt: job.occurredAt,
      jobId: job.jobId,
      stored: stored.fields,
    });
    const dropped = new Map(plan.dropped.map((d) => [d.field, d.reason]));
    const entries: Array<[string, unknown, unknown]> = [];
    for (const [field, value] of Object.entries(job.patch)) {
      if (field === 'customField') {
        for (const [key, custom] of Object.entries(value as Record<string, unknown>)) {
          entries.push([`customField.${key}`, contact?.customField?.[key], custom]);
        }
      } else entries.push([field, contact?.[field as keyof Contact], value]);
    }
    for (const [field, current, next] of entries) {
      const values = deps.showValues ? `: ${show(current)} -> ${show(next)}` : '';
      const reason = dropped.get(field);
      if (reason) lines.push(`- ${field} (${reason}, not sent)${values}`);
      else if (current === undefined || current === null) lines.push(`+ ${field}${values}`);
      else if (JSON.stringify(current) === JSON.stringify(next))
        lines.push(`= ${field} (already so)${values}`);
      else lines.push(`~ ${field}${values}`);
    }
    return lines;
  };
}

function parseFlags(args: readonly string[]) {
  const flags = {
    dryRun: false,
    showValues: false,
    reason: undefined as string | undefined,
    rest: [] as string[],
    problems: [] as string[],
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--dry-run') flags.dryRun = true;
    else if (arg === '--show-values') flags.showValues = true;
    else if (arg === '--reason' || arg.startsWith('--reason=')) {
      const value = arg === '--reason' ? args[++i] : arg.slice('--reason='.length);
      // Without this check `redrive --reason` (value forgotten) would redrive every reason.
      if (!value || value.startsWith('--')) flags.problems.push('--reason needs a dead-letter reason code');
      else flags.reason = value;
    } else if (arg.startsWith('--')) flags.problems.push(`unknown option ${arg}`);
    else flags.rest.push(arg);
  }
  return flags;
}

const USAGE =
  'usage: npm run dlq -- list | show <messageId> [--show-values] | redrive [--dry-run] [--reason <code>] [--show-values] | delete <messageId>';

const HIDDEN_HINT = '(contact values hidden; --show-values prints them)';

/** A stand-in for a contact value that gives its length, not its content (pure). */
export function redactValue(value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'string') return `[hidden, ${value.length} chars]`;
  // true/false differ in length, so a boolean gets no length.
  if (typeof value === 'boolean') return '[hidden boolean]';
  if (typeof value === 'number') return `[hidden number, ${String(value).length} chars]`;
  return `[hidden ${typeof value}]`;
}

/**
 * The job with every contact value in `patch` (custom fields included) and `match` replaced by
 * `redactValue`; ids, jobId, source, occurredAt, field names and `match.externalKey` stay (pure).
 */
export function redactPatchJob(job: PatchJob): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(job.patch)) {
    patch[field] =
      field === 'customField' && value !== null && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value).map(([key, custom]) => [key, redactValue(custom)]))
        : redactValue(value);
  }
  const { match } = job;
  return {
    ...job,
    ...(match
      ? {
          match: Object.fromEntries(
            Object.entries(match).map(([key, value]) => [
              key,
              key === 'externalKey' ? value : redactValue(value),
            ]),
          ),
        }
      : {}),
    patch,
  };
}

/**
 * What `show` prints for a dead letter: its attributes, then the job. Without `showValues`
 * the job's contact values are hidden (`redactPatchJob`), the message group is printed only
 * when it is the job's contact id or external key (else it may be an email), and a body that
 * is not a valid PatchJob is reduced to its length and the parse problem (pure).
 */
export function formatDeadLetter(letter: DeadLetter, options: { showValues?: boolean } = {}): string[] {
  const { receiptHandle: _handle, body, ...attributes } = letter;
  const parsed = parsePatchJob(body);
  if (options.showValues) {
    return [JSON.stringify(attributes, null, 2), parsed.ok ? JSON.stringify(parsed.job, null, 2) : body];
  }
  const ids = parsed.ok ? [parsed.job.contactId, parsed.job.match?.externalKey] : [];
  const groupId =
    attributes.groupId === undefined || ids.includes(attributes.groupId)
      ? attributes.groupId
      : redactValue(attributes.groupId);
  return [
    JSON.stringify({ ...attributes, groupId }, null, 2),
    parsed.ok
      ? JSON.stringify(redactPatchJob(parsed.job), null, 2)
      : `body: ${body.length} chars, ${parsed.message}`,
    HIDDEN_HINT,
  ];
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv;
  const flags = parseFlags(args);
  if (flags.problems.length > 0) {
    process.stderr.write(`dlq: ${flags.problems.join('\n')}\n${USAGE}\n`);
    return 2;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const sqs = new SQSClient({});
  if (command === 'list') {
    const { DEAD_LETTER_QUEUE_URL } = loadConfig(process.env, ['DEAD_LETTER_QUEUE_URL']);
    const letters = await listDeadLetters(sqs, DEAD_LETTER_QUEUE_URL);
    for (const l of letters) {
      out(
        [
          l.messageId,
          l.sentAt ?? '-',
          l.reason ?? '-',
          l.status ?? '-',
          l.source ?? '-',
          l.jobId ?? '-',
          l.errorMessage ?? '',
        ].join('  '),
      );
    }
    out(`${letters.length} dead letter(s)`);
    return 0;
  }
  if (command === 'show' && flags.rest[0]) {
    const { DEAD_LETTER_QUEUE_URL } = loadConfig(process.env, ['DEAD_LETTER_QUEUE_URL']);
    const letter = (await listDeadLetters(sqs, DEAD_LETTER_QUEUE_URL)).find(
      (l) => l.messageId === flags.rest[0],
    );
    if (!letter) {
      out(`no dead letter ${flags.rest[0]} (list shows the ones reachable now)`);
      return 1;
    }
    for (const line of formatDeadLetter(letter, { showValues: flags.showValues })) out(line);
    return 0;
  }
  if (command === 'delete' && flags.rest[0]) {
    const { DEAD_LETTER_QUEUE_URL } = loadConfig(process.env, ['DEAD_LETTER_QUEUE_URL']);
    if (!(await deleteDeadLetter(sqs, DEAD_LETTER_QUEUE_URL, flags.rest[0]))) {
      out(`no dead letter ${flags.rest[0]} (list shows the ones reachable now)`);
      return 1;
    }
    out(`deleted ${flags.rest[0]}`);
    return 0;
  }
  if (command === 'redrive') {
    const config = loadConfig(process.env, [
      'DEAD_LETTER_QUEUE_URL',
      'PATCH_QUEUE_URL',
      ...(flags.dryRun ? (['STATE_TABLE_NAME', 'CLEARTALK_API_KEY_SECRET_ID'] as const) : []),
    ]);
    let preview: ((job: PatchJob) => Promise<string[]>) | undefined;
    if (flags.dryRun && config.STATE_TABLE_NAME && config.CLEARTALK_API_KEY_SECRET_ID) {
      const secretId = config.CLEARTALK_API_KEY_SECRET_ID;
      // The worker's policy per source (createIfUnresolved), from the same mapping file.
      const mappings = loadMappingConfig(config.MAPPINGS_FILE);
      const secrets = createSecretCache({ client: new SecretsManagerClient({}) });
      const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));
      preview = createRedrivePreview({
        clearTalk: createClearTalkClient({
          baseUrl: config.CLEARTALK_BASE_URL,
          getApiKey: async ({ forceRefresh }) => (await secrets.get(secretId, { forceRefresh })).value,
          maxAttempts: 2,
        }),
        state: createStateStore({ client: doc, tableName: config.STATE_TABLE_NAME }),
        links: createLinkStore({ client: doc, tableName: config.STATE_TABLE_NAME }),
        policy: (source) => sourcePolicy(mappings, source),
        showValues: flags.showValues,
      });
    }
    const report = await redriveDeadLetters({
      sqs,
      deadLetterQueueUrl: config.DEAD_LETTER_QUEUE_URL,
      queueUrl: config.PATCH_QUEUE_URL,
      dryRun: flags.dryRun,
      print: out,
      ...(flags.reason ? { reason: flags.reason } : {}),
      ...(preview ? { preview } : {}),
    });
    out(
      `${flags.dryRun ? 'would redrive' : 'redriven'} ${report.redriven}, invalid ${report.invalid}, ` +
        `skipped (other reason) ${report.skipped}`,
    );
    return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    const message = error instanceof ConfigError ? error.problems.join('\n') : String(error);
    process.stderr.write(`dlq: ${message}\n`);
    process.exitCode = 1;
  }
}
