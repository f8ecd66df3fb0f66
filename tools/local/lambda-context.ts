import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/**
 * A Lambda `Context` for running a handler outside Lambda: `getRemainingTimeInMillis()` counts
 * down from the function's timeout (as configured in serverless.yml) on the injected clock.
 */
export function createLambdaContext(options: {
  functionName: string;
  timeoutMs: number;
  memoryLimitInMB?: number;
  region?: string;
  now?: () => number;
}): Context {
  const now = options.now ?? Date.now;
  const deadline = now() + options.timeoutMs;
  const region = options.region ?? 'us-east-1';
  const unsupported = () => {
    throw new Error('callback-style context methods are not supported: return a promise');
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryLimitInMB ?? 256),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: `local/${randomUUID()}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: unsupported,
    fail: unsupported,
    succeed: unsupported,
  };
}
