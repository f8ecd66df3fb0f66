import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createLogger } from '../lib/observability.js';
import { answerMisconfigured, createShopifyDeps, prepare } from '../lib/webhooks/runtime.js';
import { handleShopifyDelivery } from '../lib/webhooks/shopify.js';

// Cold start: config, mapping, SDK clients and the secret cache, reused while the container is warm.
const logger = createLogger('shopify-webhook');
const setup = prepare(() => createShopifyDeps(process.env, logger), logger);

/** `POST /webhooks/shopify` (API Gateway HTTP API, payload 2.0). */
export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  if (!setup.ok) return answerMisconfigured(setup.error, logger);
  return handleShopifyDelivery(event, setup.deps);
}
