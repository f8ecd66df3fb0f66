import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createLogger } from '../lib/observability.js';
import { answerMisconfigured, createTypeformDeps, prepare } from '../lib/webhooks/runtime.js';
import { handleTypeformDelivery } from '../lib/webhooks/typeform.js';

// Cold start: config, mapping, SDK clients and the secret cache, reused while the container is warm.
const logger = createLogger('typeform-webhook');
const setup = prepare(() => createTypeformDeps(process.env, logger), logger);

/** `POST /webhooks/typeform` (API Gateway HTTP API, payload 2.0). */
export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  if (!setup.ok) return answerMisconfigured(setup.error, logger);
  return handleTypeformDelivery(event, setup.deps);
}
