import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../lib/config.js';
import {
  type CloudFormationTemplate,
  ensurePackaged,
  listZipEntries,
  PROJECT_ROOT,
  readTemplate,
  readZipEntry,
} from '../../../tools/build/package.js';

const execFileAsync = promisify(execFile);

// Runs `serverless package` once (offline; ~15-60 s on a busy machine) unless .serverless/ is
// newer than every input, then checks the generated CloudFormation against issue 6 §1.

type Resource = CloudFormationTemplate['Resources'][string];
type Statement = { Sid?: string; Effect: string; Action: string | string[]; Resource: unknown };

let template: CloudFormationTemplate;
let packageDir: string;

const FUNCTIONS = {
  TypeformWebhook: { file: 'typeform-webhook', zip: 'typeformWebhook', timeout: 10 },
  ShopifyWebhook: { file: 'shopify-webhook', zip: 'shopifyWebhook', timeout: 8 },
  ShopifyEventbridge: { file: 'shopify-eventbridge', zip: 'shopifyEventbridge', timeout: 30 },
  ApplyPatches: { file: 'apply-patches', zip: 'applyPatches', timeout: 60 },
  Backfill: { file: 'backfill', zip: 'backfill', timeout: 900 },
} as const;
type FunctionName = keyof typeof FUNCTIONS;
const FUNCTION_NAMES = Object.keys(FUNCTIONS) as FunctionName[];

function resource(logicalId: string): Resource {
  const found = template.Resources[logicalId];
  if (!found) throw new Error(`template has no resource ${logicalId}`);
  return found;
}

function props(logicalId: string): Record<string, unknown> {
  return resource(logicalId).Properties ?? {};
}

function lambda(name: FunctionName) {
  return props(`${name}LambdaFunction`) as {
    Runtime: string;
    Architectures: string[];
    Timeout: number;
    MemorySize: number;
    Role: unknown;
    Handler: string;
    Environment: { Variables: Record<string, unknown> };
  };
}

function statements(name: FunctionName): Statement[] {
  const role = props(`${name}Role`) as {
    Policies: Array<{ PolicyDocument: { Statement: Statement[] } }>;
    ManagedPolicyArns?: unknown;
  };
  expect(role.ManagedPolicyArns).toBeUndefined();
  return role.Policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function allowedActions(name: FunctionName): Set<string> {
  return new Set(statements(name).flatMap((statement) => asArray(statement.Action)));
}

/** The actions a role grants on one resource (a `Fn::GetAtt` target or the secret `Fn::Sub`). */
function actionsOn(name: FunctionName, target: string): string[] {
  return statements(name)
    .filter((statement) => JSON.stringify(statement.Resource).includes(target))
    .flatMap((statement) => asArray(statement.Action))
    .sort();
}

/** Evaluates the `Fn::Not`/`Fn::Equals` conditions the template uses, on literal strings. */
function evaluateCondition(expression: unknown): boolean {
  const node = expression as Record<string, unknown>;
  if ('Fn::Not' in node) return !evaluateCondition((node['Fn::Not'] as unknown[])[0]);
  if ('Fn::Equals' in node) {
    const [left, right] = node['Fn::Equals'] as unknown[];
    if (typeof left !== 'string' || typeof right !== 'string') throw new Error('non-literal condition');
    return left === right;
  }
  throw new Error(`unsupported condition ${JSON.stringify(expression)}`);
}

beforeAll(async () => {
  ({ dir: packageDir } = await ensurePackaged());
  template = readTemplate(packageDir);
}, 300_000);

describe('serverless package (offline)', () => {
  it('defines the five contract functions on nodejs22.x arm64 with explicit timeouts and memory', () => {
    for (const name of FUNCTION_NAMES) {
      const fn = lambda(name);
      expect(fn.Runtime, name).toBe('nodejs22.x');
      expect(fn.Architectures, name).toEqual(['arm64']);
      expect(fn.Handler, name).toBe(`handlers/${FUNCTIONS[name].file}.handler`);
      expect(fn.Timeout, name).toBe(FUNCTIONS[name].timeout);
      expect(fn.MemorySize, name).toBeGreaterThanOrEqual(256);
    }
    const lambdas = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    expect(lambdas).toHaveLength(5);
  });

  it('routes POST /webhooks/typeform and POST /webhooks/shopify on the HTTP API with payload 2.0', () => {
    const routes = Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map(([, r]) => r.Properties?.RouteKey)
      .sort();
    expect(routes).toEqual(['POST /webhooks/shopify', 'POST /webhooks/typeform']);
    for (const name of ['TypeformWebhook', 'ShopifyWebhook'] as const) {
      const integration = props(`HttpApiIntegration${name}`);
      expect(integration.PayloadFormatVersion).toBe('2.0');
      expect(JSON.stringify(integration.IntegrationUri)).toContain(`${name}LambdaFunction`);
    }
  });

  it('feeds the worker from the FIFO queue: batch 10, ReportBatchItemFailures, bounded concurrency', () => {
    const mappings = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping',
    );
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]?.Properties ?? {};
    expect(mapping.EventSourceArn).toEqual({ 'Fn::GetAtt': ['PatchQueue', 'Arn'] });
    expect(JSON.stringify(mapping.FunctionName)).toContain('ApplyPatchesLambdaFunction');
    expect(mapping.BatchSize).toBe(10);
    expect(mapping.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mapping.ScalingConfig).toEqual({ MaximumConcurrency: 5 });
  });

  it('sizes the queue for the worker: visibility >= 6x its timeout, FIFO dead letters after MAX_RECEIVE_COUNT + 1', () => {
    const queue = props('PatchQueue');
    const dlq = props('DeadLetterQueue');
    expect(queue.FifoQueue).toBe(true);
    expect(dlq.FifoQueue).toBe(true);
    expect(queue.VisibilityTimeout as number).toBeGreaterThanOrEqual(6 * lambda('ApplyPatches').Timeout);
    const redrive = queue.RedrivePolicy as { deadLetterTargetArn: unknown; maxReceiveCount: number };
    expect(redrive.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': ['DeadLetterQueue', 'Arn'] });
    const workerMaxReceive = Number(lambda('ApplyPatches').Environment.Variables.MAX_RECEIVE_COUNT);
    expect(workerMaxReceive).toBe(5);
    expect(redrive.maxReceiveCount).toBe(workerMaxReceive + 1);
  });

  it('keeps state in an on-demand table with TTL and point-in-time recovery, retained on removal', () => {
    const table = props('StateTable');
    expect(table.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: 'expiresAt', Enabled: true });
    expect(table.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    // The links and the ledger exist nowhere else: kept when the stack is removed or replaces it.
    expect(template.Resources.StateTable).toMatchObject({
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('schedules the backfill at the configured rate, disabled unless enabled', () => {
    const rules = Object.entries(template.Resources).filter(
      ([, r]) => r.Type === 'AWS::Events::Rule' && r.Properties?.ScheduleExpression !== undefined,
    );
    expect(rules).toHaveLength(1);
    const rule = rules[0]?.[1].Properties ?? {};
    expect(rule.ScheduleExpression).toBe('rate(1 hour)');
    expect(rule.State).toBe('DISABLED');
    expect(JSON.stringify(rule.Targets)).toContain('BackfillLambdaFunction');
  });

  it('does not retry a failed backfill invocation (the next scheduled run continues from the checkpoints)', () => {
    expect(resource('BackfillLambdaEvConf').Properties).toMatchObject({
      FunctionName: { Ref: 'BackfillLambdaFunction' },
      MaximumRetryAttempts: 0,
    });
  });

  it('creates the Shopify partner-bus rule only when a bus ARN is given', () => {
    const rule = resource('ShopifyPartnerRule');
    expect(rule.Condition).toBe('HasShopifyEventBus');
    expect(resource('ShopifyPartnerRulePermission').Condition).toBe('HasShopifyEventBus');
    expect(rule.Properties?.EventPattern).toEqual({ 'detail-type': ['shopifyWebhook'] });
    expect(JSON.stringify(rule.Properties?.Targets)).toContain('ShopifyEventbridgeLambdaFunction');
    // The default stage has no bus: the condition is false, so CloudFormation creates no rule.
    expect(evaluateCondition(template.Conditions?.HasShopifyEventBus)).toBe(false);
  });

  it('gives every function its own role and no default shared role', () => {
    expect(template.Resources.IamRoleLambdaExecution).toBeUndefined();
    for (const name of FUNCTION_NAMES) {
      expect(lambda(name).Role).toEqual({ 'Fn::GetAtt': [`${name}Role`, 'Arn'] });
    }
  });

  it('grants no wildcard action and no Resource "*"', () => {
    for (const name of FUNCTION_NAMES) {
      for (const statement of statements(name)) {
        expect(statement.Effect).toBe('Allow');
        for (const action of asArray(statement.Action))
          expect(action, `${name} ${action}`).not.toContain('*');
        for (const target of asArray(statement.Resource)) expect(target, name).not.toBe('*');
      }
    }
  });

  it('grants each function exactly the actions it uses, on its own resources', () => {
    const logs = ['logs:CreateLogStream', 'logs:PutLogEvents'];
    expect(actionsOn('TypeformWebhook', 'TypeformWebhookLogGroup')).toEqual(logs);
    expect(
      actionsOn('TypeformWebhook', 'secret:cleartalk-contact-sync/dev/typeform-webhook-secret-??????'),
    ).toEqual(['secretsmanager:GetSecretValue']);
    expect(actionsOn('TypeformWebhook', 'PatchQueue')).toEqual(['sqs:SendMessage']);
    expect(actionsOn('TypeformWebhook', 'StateTable')).toEqual(['dynamodb:GetItem', 'dynamodb:PutItem']);
    expect(allowedActions('TypeformWebhook').size).toBe(6);

    const linkRemoval = ['dynamodb:BatchWriteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'];
    expect(
      actionsOn('ShopifyWebhook', 'secret:cleartalk-contact-sync/dev/shopify-webhook-secret-??????'),
    ).toEqual(['secretsmanager:GetSecretValue']);
    expect(actionsOn('ShopifyWebhook', 'PatchQueue')).toEqual(['sqs:SendMessage']);
    expect(actionsOn('ShopifyWebhook', 'StateTable')).toEqual(linkRemoval);
    expect(actionsOn('ShopifyWebhook', 'DeadLetterQueue')).toEqual([]);

    expect(actionsOn('ShopifyEventbridge', 'secretsmanager')).toEqual([]);
    expect(actionsOn('ShopifyEventbridge', 'DeadLetterQueue')).toEqual(['sqs:SendMessage']);
    expect(actionsOn('ShopifyEventbridge', 'StateTable')).toEqual(linkRemoval);

    expect(actionsOn('ApplyPatches', 'secret:cleartalk-contact-sync/dev/cleartalk-api-key-??????')).toEqual([
      'secretsmanager:GetSecretValue',
    ]);
    expect(actionsOn('ApplyPatches', 'PatchQueue')).toEqual([
      'sqs:DeleteMessage',
      'sqs:GetQueueAttributes',
      'sqs:ReceiveMessage',
    ]);
    expect(actionsOn('ApplyPatches', 'DeadLetterQueue')).toEqual(['sqs:SendMessage']);
    // UpdateItem: the per-contact lease on the versions item (lib/aws/state-store.ts).
    expect(actionsOn('ApplyPatches', 'StateTable')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);

    expect(actionsOn('Backfill', 'typeform-api-token-??????')).toEqual(['secretsmanager:GetSecretValue']);
    expect(actionsOn('Backfill', 'shopify-admin-token-??????')).toEqual(['secretsmanager:GetSecretValue']);
    expect(actionsOn('Backfill', 'PatchQueue')).toEqual(['sqs:SendMessage']);
    // UpdateItem: the Typeform request slots shared across containers (lib/aws/shared-pacer.ts).
    expect(actionsOn('Backfill', 'StateTable')).toEqual([
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
    ]);
    expect(actionsOn('Backfill', 'DeadLetterQueue')).toEqual([]);

    // Logs go only to the function's own log group; secrets only to their own names.
    for (const name of FUNCTION_NAMES) {
      expect(actionsOn(name, `${name}LogGroup`)).toEqual(logs);
      for (const statement of statements(name)) {
        const targets = JSON.stringify(statement.Resource);
        expect(targets, name).toMatch(
          /LogGroup|PatchQueue|DeadLetterQueue|EventFailureQueue|StateTable|secret:cleartalk-contact-sync\/dev\//,
        );
      }
    }
  });

  it('covers with IAM every AWS SDK command the deployed bundles call', () => {
    // SDK command classes each bundle references (the SDK is external, so names survive minifying).
    const toAction: Record<string, string> = {
      GetCommand: 'dynamodb:GetItem',
      PutCommand: 'dynamodb:PutItem',
      // Our transactions hold only puts (lib/aws/state-store.ts); IAM authorises them per item.
      TransactWriteCommand: 'dynamodb:PutItem',
      DeleteCommand: 'dynamodb:DeleteItem',
      QueryCommand: 'dynamodb:Query',
      BatchWriteCommand: 'dynamodb:BatchWriteItem',
      UpdateCommand: 'dynamodb:UpdateItem',
      SendMessageCommand: 'sqs:SendMessage',
      SendMessageBatchCommand: 'sqs:SendMessage',
      GetSecretValueCommand: 'secretsmanager:GetSecretValue',
    };
    // Bundled but never called by that function: the link store is built whole for the dedupe
    // table, and only Shopify's compliance topics remove links.
    const bundledButUnused: Partial<Record<FunctionName, string[]>> = {
      TypeformWebhook: ['QueryCommand', 'BatchWriteCommand'],
      ApplyPatches: ['QueryCommand', 'BatchWriteCommand'],
    };
    for (const name of FUNCTION_NAMES) {
      const zip = readFileSync(join(packageDir, `${FUNCTIONS[name].zip}.zip`));
      const entry = listZipEntries(zip).find((e) => e.name === `handlers/${FUNCTIONS[name].file}.cjs`);
      expect(entry, name).toBeDefined();
      const code = readZipEntry(zip, entry as NonNullable<typeof entry>).toString('utf8');
      const commands = [...new Set(code.match(/\b[A-Z][A-Za-z]+Command\b/g) ?? [])].filter(
        (command) => !(bundledButUnused[name] ?? []).includes(command),
      );
      expect(commands.length, name).toBeGreaterThan(0);
      const allowed = allowedActions(name);
      for (const command of commands) {
        const action = toAction[command];
        expect(
          action,
          `${name} calls ${command}: add it to the map and to infra/functions.yml`,
        ).toBeDefined();
        expect(allowed.has(action as string), `${name} calls ${command} but may not ${action}`).toBe(true);
      }
    }
  });

  it('alarms on dead letters, the oldest message, worker and backfill errors, webhook 5xx and mostly refused webhooks', () => {
    const alarms = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
      .map((r) => r.Properties as Record<string, unknown>);
    const find = (namespace: string, metric: string, dimension: unknown) =>
      alarms.find(
        (a) =>
          a.Namespace === namespace &&
          a.MetricName === metric &&
          JSON.stringify(a.Dimensions).includes(JSON.stringify(dimension)),
      );
    const dlq = find('AWS/SQS', 'ApproximateNumberOfMessagesVisible', {
      'Fn::GetAtt': ['DeadLetterQueue', 'QueueName'],
    });
    expect(dlq).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    const age = find('AWS/SQS', 'ApproximateAgeOfOldestMessage', {
      'Fn::GetAtt': ['PatchQueue', 'QueueName'],
    });
    expect(age).toMatchObject({ Threshold: 900, ComparisonOperator: 'GreaterThanThreshold' });
    const errors = find('AWS/Lambda', 'Errors', { Ref: 'ApplyPatchesLambdaFunction' });
    expect(errors).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    const backfillErrors = find('AWS/Lambda', 'Errors', { Ref: 'BackfillLambdaFunction' });
    expect(backfillErrors).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    const http5xx = find('AWS/ApiGateway', '5xx', { Ref: 'HttpApi' });
    expect(http5xx).toMatchObject({ Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' });
    // Most deliveries refused (a wrong webhook secret): the share of 4xx among the requests.
    const rejections = alarms.find((a) => String(a.AlarmName).endsWith('-webhook-rejections'));
    const metrics = (rejections?.Metrics ?? []) as Array<{
      Id: string;
      Expression?: string;
      MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions: unknown } };
    }>;
    expect(
      metrics.map((m) => [m.Id, m.MetricStat?.Metric.Namespace, m.MetricStat?.Metric.MetricName]),
    ).toEqual([
      ['rejected', 'AWS/ApiGateway', '4xx'],
      ['requests', 'AWS/ApiGateway', 'Count'],
      ['share', undefined, undefined],
    ]);
    for (const m of metrics.slice(0, 2))
      expect(m.MetricStat?.Metric.Dimensions).toEqual([{ Name: 'ApiId', Value: { Ref: 'HttpApi' } }]);
    expect(metrics[2]?.Expression).toBe('IF(requests >= 3, rejected / requests, 0)');
    expect(rejections).toMatchObject({ Threshold: 0.5, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    for (const alarm of [dlq, age, errors, backfillErrors, http5xx, rejections])
      expect(alarm?.AlarmActions).toEqual([{ Ref: 'AlarmTopic' }]);
  });

  it('gives each function only the environment it needs, with secret names, never secret values', () => {
    const base = ['DEFAULT_PHONE_REGION', 'MAPPINGS_FILE', 'POWERTOOLS_LOG_LEVEL'];
    const expected: Record<FunctionName, string[]> = {
      TypeformWebhook: [...base, 'PATCH_QUEUE_URL', 'STATE_TABLE_NAME', 'TYPEFORM_WEBHOOK_SECRET_ID'],
      ShopifyWebhook: [...base, 'PATCH_QUEUE_URL', 'SHOPIFY_WEBHOOK_SECRET_ID', 'STATE_TABLE_NAME'],
      ShopifyEventbridge: [...base, 'DEAD_LETTER_QUEUE_URL', 'PATCH_QUEUE_URL', 'STATE_TABLE_NAME'],
      ApplyPatches: [
        ...base,
        'CLEARTALK_API_KEY_SECRET_ID',
        'CLEARTALK_BASE_URL',
        'DEAD_LETTER_QUEUE_URL',
        'MAX_RECEIVE_COUNT',
        'PATCH_QUEUE_URL',
        'STATE_TABLE_NAME',
      ],
      Backfill: [
        ...base,
        'PATCH_QUEUE_URL',
        'SHOPIFY_ADMIN_TOKEN_SECRET_ID',
        'SHOPIFY_API_VERSION',
        'SHOPIFY_SHOP_DOMAIN',
        'STATE_TABLE_NAME',
        'TYPEFORM_API_BASE_URL',
        'TYPEFORM_API_TOKEN_SECRET_ID',
      ],
    };
    for (const name of FUNCTION_NAMES) {
      const variables = lambda(name).Environment.Variables;
      expect(Object.keys(variables).sort(), name).toEqual(expected[name].sort());
      for (const [key, value] of Object.entries(variables)) {
        if (key.endsWith('_SECRET_ID')) expect(value, key).toMatch(/^cleartalk-contact-sync\/dev\/[a-z-]+$/);
      }
      expect(variables.PATCH_QUEUE_URL).toEqual({ Ref: 'PatchQueue' });
    }
    // An unset optional setting arrives as '' (serverless invoke local cannot evaluate Fn::If),
    // which the configuration reads as unset.
    expect(lambda('Backfill').Environment.Variables.SHOPIFY_SHOP_DOMAIN).toBe('');
    expect(lambda('ApplyPatches').Environment.Variables.MAPPINGS_FILE).toBe('');
    const config = loadConfig({ SHOPIFY_SHOP_DOMAIN: '', MAPPINGS_FILE: '' });
    expect(config.SHOPIFY_SHOP_DOMAIN).toBeUndefined();
    expect(config.MAPPINGS_FILE).toBeUndefined();
  });

  it('keeps every bundle within 400 KB minified', () => {
    for (const name of FUNCTION_NAMES) {
      const zip = readFileSync(join(packageDir, `${FUNCTIONS[name].zip}.zip`));
      const code = listZipEntries(zip).find((e) => e.name === `handlers/${FUNCTIONS[name].file}.cjs`);
      expect(code?.size, name).toBeLessThanOrEqual(400 * 1024);
    }
  });

  it('turns stage parameters given on the command line into the deployed settings', async () => {
    // `serverless print` resolves every variable like `package` does, without building bundles.
    const bus = 'arn:aws:events:us-east-1:123456789012:event-bus/aws.partner/shopify.com/1/demo';
    const { stdout } = await execFileAsync(
      join(PROJECT_ROOT, 'node_modules', '.bin', 'serverless'),
      [
        'print',
        '--format',
        'json',
        ...[
          'maxReceiveCount=7',
          'workerMaxConcurrency=3',
          `shopifyEventBusArn=${bus}`,
          'backfillEnabled=true',
        ].flatMap((p) => ['--param', p]),
      ],
      { cwd: PROJECT_ROOT, maxBuffer: 16 * 1024 * 1024 },
    );
    const config = JSON.parse(stdout) as {
      resources: CloudFormationTemplate;
      functions: Record<
        string,
        {
          environment: Record<string, unknown>;
          events: Array<{ sqs?: { maximumConcurrency?: number }; schedule?: { enabled?: boolean } }>;
        }
      >;
    };
    const redrive = config.resources.Resources.PatchQueue?.Properties?.RedrivePolicy as {
      maxReceiveCount: number;
    };
    expect(redrive.maxReceiveCount).toBe(8);
    expect(Number(config.functions.applyPatches?.environment.MAX_RECEIVE_COUNT)).toBe(7);
    expect(config.functions.applyPatches?.events[0]?.sqs?.maximumConcurrency).toBe(3);
    expect(config.functions.backfill?.events[0]?.schedule?.enabled).toBe(true);
    expect(evaluateCondition(config.resources.Conditions?.HasShopifyEventBus)).toBe(true);
  }, 120_000);

  it('keeps serverless.yml free of secrets', () => {
    const source = readFileSync(join(PROJECT_ROOT, 'serverless.yml'), 'utf8');
    // Access keys, Shopify tokens, Stripe-style keys, and long opaque tokens.
    expect(source).not.toMatch(
      /AKIA[0-9A-Z]{16}|shp(at|ss|ca|pa)_[0-9a-f]{16,}|sk_(live|test)_|[A-Za-z0-9+/]{40,}/,
    );
  });
});
