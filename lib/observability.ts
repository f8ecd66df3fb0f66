import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

/**
 * Structured JSON logs and CloudWatch embedded-format metrics, shared by every function.
 * Log ids, field names, outcomes and reason codes; never secrets, API keys or contact values
 * (emails, phones, names).
 */
export const SERVICE_NAME = 'cleartalk-contact-sync';
export const METRICS_NAMESPACE = 'CleartalkContactSync';

export function createLogger(functionName: string): Logger {
  return new Logger({ serviceName: SERVICE_NAME, persistentKeys: { function: functionName } });
}

export function createMetrics(functionName: string): Metrics {
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName: SERVICE_NAME,
    defaultDimensions: { function: functionName },
  });
}
