// Derived deploy settings for serverless.yml (`${file(infra/variables.cjs):name}`).
// Neither serverless variables nor CloudFormation can do arithmetic, and a `--param` given on the
// command line is always a string, so the numbers that must stay consistent are computed here
// from one parameter each.

const toPositiveInt = (name, raw) => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`param ${name} must be a positive integer (got ${JSON.stringify(raw)})`);
  }
  return value;
};

const param = async (resolveVariable, name) => toPositiveInt(name, await resolveVariable(`param:${name}`));

// The five Secrets Manager parameters. IAM grants `secret:<name>-??????` (the suffix Secrets
// Manager appends to every secret ARN), so a parameter must be the secret's NAME: an ARN (or a
// partial ARN ending in the suffix) would deploy cleanly and then be refused on every call.
const SECRET_PARAMS = [
  'cleartalkApiKeySecret',
  'typeformWebhookSecret',
  'shopifyWebhookSecret',
  'typeformApiTokenSecret',
  'shopifyAdminTokenSecret',
];
// Secrets Manager's own rule for names: 1-512 of these characters.
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

const toSecretName = (name, raw) => {
  const value = String(raw ?? '');
  if (/^arn:/i.test(value)) {
    throw new Error(
      `param ${name} must be a Secrets Manager secret name, not an ARN (got an ARN; use the part after "secret:" without the 6-character suffix)`,
    );
  }
  if (!SECRET_NAME.test(value)) {
    throw new Error(
      `param ${name} must be a Secrets Manager secret name (1-512 of A-Z a-z 0-9 / _ + = . @ -)`,
    );
  }
  return value;
};

module.exports = {
  // The worker dead-letters a record itself, with reason `retries-exhausted`, on its
  // MAX_RECEIVE_COUNT-th receive; the queue's redrive (one more) is only the backstop for crashes.
  maxReceiveCount: ({ resolveVariable }) => param(resolveVariable, 'maxReceiveCount'),
  redriveMaxReceiveCount: async ({ resolveVariable }) =>
    (await param(resolveVariable, 'maxReceiveCount')) + 1,
  // AWS: set the source queue's visibility timeout to at least six times the function timeout.
  patchQueueVisibilityTimeoutSeconds: async ({ resolveVariable }) =>
    6 * toPositiveInt('applyPatches timeout', await resolveVariable('self:custom.timeouts.applyPatches')),
  // The event source mapping's schema wants a number; CLI params arrive as strings.
  workerMaxConcurrency: async ({ resolveVariable }) => {
    const value = await param(resolveVariable, 'workerMaxConcurrency');
    if (value < 2 || value > 1000)
      throw new Error('param workerMaxConcurrency must be 2..1000 (the SQS event source limits)');
    return value;
  },
  // Every secret parameter, checked (see toSecretName).
  secretNames: async ({ resolveVariable }) => {
    const names = {};
    for (const name of SECRET_PARAMS)
      names[name] = toSecretName(name, await resolveVariable(`param:${name}`));
    return names;
  },
  oldestMessageAlarmSeconds: ({ resolveVariable }) => param(resolveVariable, 'oldestMessageAlarmSeconds'),
  logRetentionDays: ({ resolveVariable }) => param(resolveVariable, 'logRetentionDays'),
};

// For tests.
module.exports.toSecretName = toSecretName;
