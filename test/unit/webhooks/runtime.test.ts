import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/errors.js';
import {
  createEventBridgeDeps,
  createShopifyDeps,
  createTypeformDeps,
} from '../../../lib/webhooks/runtime.js';
import { createLogCapture } from '../../helpers/webhook-deps.js';

function problemsOf(build: () => unknown): string[] {
  try {
    build();
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('cold-start wiring', () => {
  it('reports every missing variable of the Typeform function at once', () => {
    const problems = problemsOf(() => createTypeformDeps({}, createLogCapture()));
    expect(problems).toEqual(['TYPEFORM_WEBHOOK_SECRET_ID: required', 'PATCH_QUEUE_URL: required']);
  });

  it('requires the state table for the Shopify function (compliance topics remove links)', () => {
    const problems = problemsOf(() => createShopifyDeps({ PATCH_QUEUE_URL: 'q' }, createLogCapture()));
    expect(problems).toEqual(['SHOPIFY_WEBHOOK_SECRET_ID: required', 'STATE_TABLE_NAME: required']);
  });

  it('requires the queue, the dead-letter queue and the state table for the EventBridge function', () => {
    const problems = problemsOf(() => createEventBridgeDeps({}, createLogCapture()));
    expect(problems).toEqual([
      'PATCH_QUEUE_URL: required',
      'DEAD_LETTER_QUEUE_URL: required',
      'STATE_TABLE_NAME: required',
    ]);
  });

  it('reports an unreadable mapping file as a configuration problem', () => {
    const env = {
      TYPEFORM_WEBHOOK_SECRET_ID: 's',
      PATCH_QUEUE_URL: 'q',
      MAPPINGS_FILE: '/nonexistent/mappings.json',
    };
    expect(problemsOf(() => createTypeformDeps(env, createLogCapture())).join('\n')).toMatch(/MAPPINGS_FILE/);
  });

  it('runs the Typeform function without delivery dedupe when no state table is configured', () => {
    const logger = createLogCapture();
    const without = createTypeformDeps({ TYPEFORM_WEBHOOK_SECRET_ID: 's', PATCH_QUEUE_URL: 'q' }, logger);
    expect(without.deliveries).toBeUndefined();
    const withTable = createTypeformDeps(
      { TYPEFORM_WEBHOOK_SECRET_ID: 's', PATCH_QUEUE_URL: 'q', STATE_TABLE_NAME: 't' },
      logger,
    );
    expect(withTable.deliveries).toBeDefined();
    expect(withTable.secretId).toBe('s');
  });
});
