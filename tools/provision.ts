/**
 * `npm run provision -- --prefix <name>` (contract, issue 4 §6): creates, idempotently, the PatchJob
 * FIFO queue, its FIFO dead-letter queue (with the redrive policy) and the state table in whatever
 * endpoint the AWS SDK is configured for (`AWS_ENDPOINT_URL`, e.g. moto), from the same
 * `infra/resources.yml` that serverless.yml deploys, and prints one JSON object on its last line:
 * `{"PATCH_QUEUE_URL": …, "DEAD_LETTER_QUEUE_URL": …, "STATE_TABLE_NAME": …}`.
 *
 * Options: `--visibility-timeout <seconds>` (default 360), `--redrive-max-receive-count <n>` (default 6).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type AttributeDefinition,
  type BillingMode,
  CreateTableCommand,
  DescribeContinuousBackupsCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  type KeySchemaElement,
  UpdateContinuousBackupsCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { parse } from 'yaml';
import { ConfigError } from '../lib/errors.js';

/** What the stack gives its users: the contract environment variables. */
export interface ProvisionedStack {
  readonly PATCH_QUEUE_URL: string;
  readonly DEAD_LETTER_QUEUE_URL: string;
  readonly STATE_TABLE_NAME: string;
}

export interface ProvisionOptions {
  /** Resource-name prefix (`${self:custom.prefix}`): letters, digits, `-`, `_`; at most 60 characters. */
  readonly prefix: string;
  /** `${self:custom.patchQueueVisibilityTimeoutSeconds}`. @default 360 (6 x a 60 s worker timeout) */
  readonly visibilityTimeoutSeconds?: number;
  /** `${self:custom.redriveMaxReceiveCount}`. @default 6 (the worker's MAX_RECEIVE_COUNT 5, plus 1) */
  readonly redriveMaxReceiveCount?: number;
  /** @default new SQSClient({}) (honours AWS_ENDPOINT_URL and AWS_REGION) */
  readonly sqs?: Pick<SQSClient, 'send'>;
  /** @default new DynamoDBClient({}) */
  readonly dynamodb?: Pick<DynamoDBClient, 'send'>;
  /** @default infra/resources.yml next to this tool */
  readonly templatePath?: string;
  /** Progress lines (never secrets). @default silent */
  readonly log?: (line: string) => void;
  /** Pause between polls of a table that is not ready yet. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Which template resource feeds which contract variable. */
export const STACK_OUTPUTS = {
  PatchQueue: 'PATCH_QUEUE_URL',
  DeadLetterQueue: 'DEAD_LETTER_QUEUE_URL',
  StateTable: 'STATE_TABLE_NAME',
} as const;

export const DEFAULT_TEMPLATE_PATH = fileURLToPath(new URL('../infra/resources.yml', import.meta.url));

interface TemplateResource {
  Type: string;
  Properties: Record<string, unknown>;
}

interface Template {
  Resources: Record<string, TemplateResource>;
}

/** The resource after creation: what `Ref` and `Fn::GetAtt: [X, Arn]` resolve to. */
interface Created {
  ref: string;
  arn: string;
}

const VARIABLE = /\$\{([^}]+)\}/g;

/**
 * Reads the CloudFormation template and substitutes `${…}` variables (values keyed like
 * `self:custom.prefix`). A value that is exactly one variable keeps the variable's type.
 * @throws {ConfigError} listing every variable the caller did not supply
 */
export function loadStackTemplate(
  path: string,
  variables: Readonly<Record<string, string | number>>,
): Template {
  const missing = new Set<string>();
  const substitute = (node: unknown): unknown => {
    if (typeof node === 'string') {
      const whole = /^\$\{([^}]+)\}$/.exec(node);
      if (whole?.[1] !== undefined) {
        const name = whole[1].trim();
        if (!(name in variables)) missing.add(name);
        return variables[name] ?? node;
      }
      return node.replace(VARIABLE, (text, name: string) => {
        const value = variables[name.trim()];
        if (value === undefined) missing.add(name.trim());
        return value === undefined ? text : String(value);
      });
    }
    if (Array.isArray(node)) return node.map(substitute);
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, substitute(value)]));
    }
    return node;
  };
  const template = substitute(parse(readFileSync(path, 'utf8'))) as Partial<Template>;
  if (missing.size > 0) {
    throw new ConfigError([...missing].map((name) => `${path}: no value for \${${name}}`));
  }
  if (!template.Resources || typeof template.Resources !== 'object') {
    throw new ConfigError([`${path}: no Resources section`]);
  }
  return template as Template;
}

/** Logical ids a node refers to with `Ref` or `Fn::GetAtt`. */
function referencesOf(node: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const item of node) referencesOf(item, into);
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Ref' && typeof value === 'string') into.add(value);
      else if (key === 'Fn::GetAtt' && Array.isArray(value) && typeof value[0] === 'string')
        into.add(value[0]);
      else referencesOf(value, into);
    }
  }
  return into;
}

/** Replaces `Ref`/`Fn::GetAtt` with the values of resources created before. */
function resolveIntrinsics(node: unknown, created: ReadonlyMap<string, Created>): unknown {
  if (Array.isArray(node)) return node.map((item) => resolveIntrinsics(item, created));
  if (node === null || typeof node !== 'object') return node;
  const record = node as Record<string, unknown>;
  if (typeof record.Ref === 'string') {
    const target = created.get(record.Ref);
    if (!target) throw new ConfigError([`Ref: ${record.Ref} is not a resource created before it`]);
    return target.ref;
  }
  const getAtt = record['Fn::GetAtt'];
  if (Array.isArray(getAtt)) {
    const [id, attribute] = getAtt as [string, string];
    const target = created.get(id);
    if (!target || attribute !== 'Arn')
      throw new ConfigError([`Fn::GetAtt: [${id}, ${attribute}] is not supported`]);
    return target.arn;
  }
  return Object.fromEntries(
    Object.entries(record).map(([key, value]) => [key, resolveIntrinsics(value, created)]),
  );
}

/** Resources in an order where everything a resource refers to comes first. */
function creationOrder(resources: Record<string, TemplateResource>): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (id: string) => {
    if (order.includes(id)) return;
    if (visiting.has(id)) throw new ConfigError([`resources refer to each other in a cycle at ${id}`]);
    visiting.add(id);
    for (const ref of referencesOf(resources[id]?.Properties)) if (ref in resources) visit(ref);
    visiting.delete(id);
    order.push(id);
  };
  for (const id of Object.keys(resources)) visit(id);
  return order;
}

// CloudFormation AWS::SQS::Queue properties that are plain SQS attributes.
const QUEUE_ATTRIBUTES = [
  'FifoQueue',
  'ContentBasedDeduplication',
  'VisibilityTimeout',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'DelaySeconds',
  'MaximumMessageSize',
  'SqsManagedSseEnabled',
  'KmsMasterKeyId',
  'DeduplicationScope',
  'FifoThroughputLimit',
] as const;

function queueAttributes(id: string, properties: Record<string, unknown>): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(properties)) {
    if (key === 'QueueName') continue;
    if (key === 'RedrivePolicy') {
      const policy = value as { deadLetterTargetArn: string; maxReceiveCount: number | string };
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: policy.deadLetterTargetArn,
        maxReceiveCount: Number(policy.maxReceiveCount),
      });
    } else if ((QUEUE_ATTRIBUTES as readonly string[]).includes(key)) {
      attributes[key] = String(value);
    } else {
      // Fail loudly: silently skipping a property would let the local stack drift from the deploy.
      throw new ConfigError([`${id}: provision does not know the queue property ${key}`]);
    }
  }
  return attributes;
}

async function provisionQueue(
  sqs: Pick<SQSClient, 'send'>,
  id: string,
  properties: Record<string, unknown>,
  log: (line: string) => void,
): Promise<Created> {
  const name = properties.QueueName;
  if (typeof name !== 'string') throw new ConfigError([`${id}: QueueName is required`]);
  const attributes = queueAttributes(id, properties);
  let url: string | undefined;
  try {
    url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
  } catch (error) {
    if (!/NonExistentQueue|QueueDoesNotExist/.test((error as Error).name ?? '')) throw error;
  }
  if (url) {
    // Exists: bring the mutable attributes up to date (FifoQueue can never change).
    const { FifoQueue: _fifo, ...mutable } = attributes;
    await sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: mutable }));
    log(`queue ${name}: exists, attributes updated`);
  } else {
    url = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl;
    log(`queue ${name}: created`);
  }
  if (!url) throw new Error(`queue ${name}: SQS returned no URL`);
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${name}: SQS returned no ARN`);
  return { ref: url, arn };
}

const TABLE_PROPERTIES = [
  'TableName',
  'BillingMode',
  'AttributeDefinitions',
  'KeySchema',
  'TimeToLiveSpecification',
  'PointInTimeRecoverySpecification',
] as const;

async function provisionTable(
  dynamodb: Pick<DynamoDBClient, 'send'>,
  id: string,
  properties: Record<string, unknown>,
  log: (line: string) => void,
  sleep: (ms: number) => Promise<void>,
): Promise<Created> {
  const unknown = Object.keys(properties).filter(
    (key) => !(TABLE_PROPERTIES as readonly string[]).includes(key),
  );
  if (unknown.length > 0)
    throw new ConfigError(unknown.map((key) => `${id}: provision does not know ${key}`));
  const name = properties.TableName;
  if (typeof name !== 'string') throw new ConfigError([`${id}: TableName is required`]);
  const keySchema = properties.KeySchema as KeySchemaElement[];

  let table = await describeTable(dynamodb, name);
  if (!table) {
    try {
      await dynamodb.send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: properties.AttributeDefinitions as AttributeDefinition[],
          KeySchema: keySchema,
          BillingMode: (properties.BillingMode as BillingMode | undefined) ?? 'PAY_PER_REQUEST',
        }),
      );
      log(`table ${name}: created`);
    } catch (error) {
      // Another provision run created it between our describe and create: fine.
      if ((error as Error).name !== 'ResourceInUseException') throw error;
    }
  } else {
    const want = JSON.stringify(keySchema.map((k) => [k.AttributeName, k.KeyType]));
    const have = JSON.stringify((table.KeySchema ?? []).map((k) => [k.AttributeName, k.KeyType]));
    if (want !== have) {
      throw new ConfigError([
        `table ${name} exists with key schema ${have}, expected ${want}; use another prefix`,
      ]);
    }
    log(`table ${name}: exists`);
  }
  // Moto creates tables ACTIVE at once; AWS takes seconds. The SDK waiter polls every 20 s: too slow.
  const giveUpAt = Date.now() + 120_000;
  for (let wait = 50; table?.TableStatus !== 'ACTIVE'; wait = Math.min(1_000, wait * 2)) {
    if (Date.now() > giveUpAt) throw new Error(`table ${name}: not ACTIVE after 120 s`);
    await sleep(wait);
    table = await describeTable(dynamodb, name);
  }

  const ttl = properties.TimeToLiveSpecification as { AttributeName: string; Enabled: boolean } | undefined;
  if (ttl?.Enabled) {
    const current = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: name }));
    const description = current.TimeToLiveDescription;
    const enabled =
      description?.AttributeName === ttl.AttributeName &&
      (description.TimeToLiveStatus === 'ENABLED' || description.TimeToLiveStatus === 'ENABLING');
    if (!enabled) {
      await dynamodb.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
        }),
      );
      log(`table ${name}: TTL on ${ttl.AttributeName} enabled`);
    }
  }

  const pitr = properties.PointInTimeRecoverySpecification as
    | { PointInTimeRecoveryEnabled: boolean }
    | undefined;
  if (pitr?.PointInTimeRecoveryEnabled) {
    const current = await dynamodb.send(new DescribeContinuousBackupsCommand({ TableName: name }));
    const status =
      current.ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus;
    if (status !== 'ENABLED') {
      // DynamoDB refuses this for a table it has just created (ContinuousBackupsUnavailableException,
      // "Backups are being enabled for the table") until its continuous backups are ready.
      const backupsBy = Date.now() + 120_000;
      for (let wait = 200; ; wait = Math.min(5_000, wait * 2)) {
        try {
          await dynamodb.send(
            new UpdateContinuousBackupsCommand({
              TableName: name,
              PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            }),
          );
          break;
        } catch (error) {
          if ((error as Error).name !== 'ContinuousBackupsUnavailableException' || Date.now() > backupsBy)
            throw error;
          await sleep(wait);
        }
      }
      log(`table ${name}: point-in-time recovery enabled`);
    }
  }
  const arn = table.TableArn;
  if (!arn) throw new Error(`table ${name}: DynamoDB returned no ARN`);
  return { ref: name, arn };
}

async function describeTable(dynamodb: Pick<DynamoDBClient, 'send'>, name: string) {
  try {
    return (await dynamodb.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/**
 * Creates (or brings up to date) every resource of `infra/resources.yml` and returns the contract
 * variables. Safe to run again with the same prefix.
 * @throws {ConfigError} for a bad prefix, an unknown template variable or property, or a clash with
 * an existing table of another shape
 */
export async function provisionStack(options: ProvisionOptions): Promise<ProvisionedStack> {
  if (!/^[A-Za-z0-9_-]{1,60}$/.test(options.prefix)) {
    throw new ConfigError(['--prefix: 1 to 60 letters, digits, "-" or "_"']);
  }
  const log = options.log ?? (() => {});
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const template = loadStackTemplate(options.templatePath ?? DEFAULT_TEMPLATE_PATH, {
    'self:custom.prefix': options.prefix,
    'self:custom.patchQueueVisibilityTimeoutSeconds': options.visibilityTimeoutSeconds ?? 360,
    'self:custom.redriveMaxReceiveCount': options.redriveMaxReceiveCount ?? 6,
  });
  const sqs = options.sqs ?? new SQSClient({});
  const dynamodb = options.dynamodb ?? new DynamoDBClient({});
  const created = new Map<string, Created>();
  for (const id of creationOrder(template.Resources)) {
    const resource = template.Resources[id];
    if (!resource) continue;
    const properties = resolveIntrinsics(resource.Properties ?? {}, created) as Record<string, unknown>;
    if (resource.Type === 'AWS::SQS::Queue') created.set(id, await provisionQueue(sqs, id, properties, log));
    else if (resource.Type === 'AWS::DynamoDB::Table') {
      created.set(id, await provisionTable(dynamodb, id, properties, log, sleep));
    } else throw new ConfigError([`${id}: provision cannot create ${resource.Type}`]);
  }
  const output = (id: keyof typeof STACK_OUTPUTS) => {
    const value = created.get(id)?.ref;
    if (!value) throw new ConfigError([`the template has no ${id} resource`]);
    return value;
  };
  return {
    PATCH_QUEUE_URL: output('PatchQueue'),
    DEAD_LETTER_QUEUE_URL: output('DeadLetterQueue'),
    STATE_TABLE_NAME: output('StateTable'),
  };
}

function parseArgs(argv: readonly string[]): ProvisionOptions {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    // `--flag=value`: the value is everything after the first `=` (a prefix with `=` is then
    // refused by the prefix check, not cut short).
    const cut = arg.indexOf('=');
    const flag = cut < 0 ? arg : arg.slice(0, cut);
    const inline = cut < 0 ? undefined : arg.slice(cut + 1);
    if (!flag.startsWith('--')) throw new ConfigError([`unexpected argument ${arg}`]);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError([`${flag} needs a value`]);
    values.set(flag, value);
  }
  const known = ['--prefix', '--visibility-timeout', '--redrive-max-receive-count'];
  const problems = [...values.keys()]
    .filter((flag) => !known.includes(flag))
    .map((flag) => `unknown option ${flag}`);
  const prefix = values.get('--prefix');
  if (!prefix) problems.push('--prefix <name> is required');
  const number = (flag: string) => {
    const text = values.get(flag);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0) problems.push(`${flag} must be a positive integer`);
    return n;
  };
  const visibilityTimeoutSeconds = number('--visibility-timeout');
  const redriveMaxReceiveCount = number('--redrive-max-receive-count');
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    prefix: prefix ?? '',
    ...(visibilityTimeoutSeconds === undefined ? {} : { visibilityTimeoutSeconds }),
    ...(redriveMaxReceiveCount === undefined ? {} : { redriveMaxReceiveCount }),
  };
}

const USAGE =
  'usage: npm run provision -- --prefix <name> [--visibility-timeout <seconds>] [--redrive-max-receive-count <n>]';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  try {
    const options = parseArgs(argv);
    const endpoint = process.env.AWS_ENDPOINT_URL ?? 'the default AWS endpoints';
    process.stderr.write(`provisioning prefix ${options.prefix} in ${endpoint}\n`);
    const stack = await provisionStack({ ...options, log: (line) => process.stderr.write(`${line}\n`) });
    process.stdout.write(`${JSON.stringify(stack)}\n`);
  } catch (error) {
    const message = error instanceof ConfigError ? error.problems.join('\n') : String(error);
    process.stderr.write(`provision failed: ${message}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
