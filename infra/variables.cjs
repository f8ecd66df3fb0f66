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
  oldestMessageAlarmSeconds: ({ resolveVariable }) => param(resolveVariable, 'oldestMessageAlarmSeconds'),
  logRetentionDays: ({ resolveVariable }) => param(resolveVariable, 'logRetentionDays'),
};
