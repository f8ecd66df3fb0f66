import { createLogger } from '../lib/observability.js';
import { handleShopifyEventBridgeEvent, type ShopifyEventBridgeEvent } from '../lib/webhooks/eventbridge.js';
import { createEventBridgeDeps, prepare } from '../lib/webhooks/runtime.js';

// Cold start: config, mapping and SDK clients, reused while the container is warm.
const logger = createLogger('shopify-eventbridge');
const setup = prepare(() => createEventBridgeDeps(process.env, logger), logger);

/**
 * EventBridge rule `detail-type: shopifyWebhook`. Returns nothing; throws so EventBridge/Lambda
 * retry when the queue or table cannot be reached, or when the function is misconfigured.
 */
export async function handler(event: ShopifyEventBridgeEvent): Promise<void> {
  if (!setup.ok) throw setup.error;
  await handleShopifyEventBridgeEvent(event, setup.deps);
}
