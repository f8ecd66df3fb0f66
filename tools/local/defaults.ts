/**
 * Documented secrets and names for local runs ONLY (`npm start`, `npm run send`, `events/`).
 * They are public on purpose: never use them for a deployed stage.
 *
 * | variable                | default                 | used for                                  |
 * |-------------------------|-------------------------|-------------------------------------------|
 * | `LOCAL_TYPEFORM_SECRET` | `local-typeform-secret` | signs Typeform webhooks (events/, send)   |
 * | `LOCAL_SHOPIFY_SECRET`  | `local-shopify-secret`  | signs Shopify webhooks (events/, send)    |
 * | `LOCAL_SHOPIFY_SHOP`    | `cleartalk-demo.myshopify.com` | shop domain of local Shopify deliveries |
 *
 * The Typeform Responses API stand-in of `npm start` takes the token `local-typeform-token` and
 * lists 30 responses of form `lT4Z3j`, the newest at 2026-11-25 12:00 UTC: inside the window of
 * events/backfill/request-typeform.json, for `serverless invoke local -f backfill`.
 */
export const LOCAL_DEFAULTS = {
  typeformSecret: 'local-typeform-secret',
  shopifySecret: 'local-shopify-secret',
  shopifyShop: 'cleartalk-demo.myshopify.com',
  port: 3000,
  typeformApiToken: 'local-typeform-token',
  typeformForm: 'lT4Z3j',
  typeformNewestAt: Date.UTC(2026, 10, 25, 12),
} as const;

/** The local Typeform webhook secret: `LOCAL_TYPEFORM_SECRET`, else the documented default. */
export function localTypeformSecret(env: Record<string, string | undefined> = process.env): string {
  return env.LOCAL_TYPEFORM_SECRET?.trim() || LOCAL_DEFAULTS.typeformSecret;
}

/** The local Shopify webhook secret: `LOCAL_SHOPIFY_SECRET`, else the documented default. */
export function localShopifySecret(env: Record<string, string | undefined> = process.env): string {
  return env.LOCAL_SHOPIFY_SECRET?.trim() || LOCAL_DEFAULTS.shopifySecret;
}

/** The shop domain of local Shopify deliveries: `LOCAL_SHOPIFY_SHOP`, else the documented default. */
export function localShopifyShop(env: Record<string, string | undefined> = process.env): string {
  return env.LOCAL_SHOPIFY_SHOP?.trim() || LOCAL_DEFAULTS.shopifyShop;
}
