import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBackfillEvent } from '../../../lib/backfill/request.js';
import { ValidationError } from '../../../lib/errors.js';

const scheduled = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-11-26T10:00:00Z',
  region: 'us-east-1',
  resources: ['arn:aws:events:us-east-1:123456789012:rule/backfill'],
  detail: {},
};

describe('parseBackfillEvent', () => {
  it('recognises the EventBridge schedule', () => {
    expect(parseBackfillEvent(scheduled)).toEqual({ kind: 'schedule' });
  });

  it('parses a direct request with defaults', () => {
    expect(
      parseBackfillEvent({ source: 'typeform', formIds: ['lT4Z3j'], since: '2026-11-01T00:00:00Z' }),
    ).toEqual({
      kind: 'request',
      request: { source: 'typeform', formIds: ['lT4Z3j'], since: '2026-11-01T00:00:00Z', dryRun: false },
    });
  });

  it('rejects a bad request listing every problem', () => {
    let error: unknown;
    try {
      parseBackfillEvent({ source: 'mailchimp', since: 'yesterday', maxRecords: -1, extra: true });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ValidationError);
    const issues = (error as ValidationError).issues.join('\n');
    expect(issues).toMatch(/source/);
    expect(issues).toMatch(/since/);
    expect(issues).toMatch(/maxRecords/);
    expect(issues).toMatch(/extra/);
    expect((error as ValidationError).code).toBe('invalid-request');
  });

  it('rejects since after until and formIds for Shopify', () => {
    expect(() =>
      parseBackfillEvent({
        source: 'typeform',
        since: '2026-11-02T00:00:00Z',
        until: '2026-11-01T00:00:00Z',
      }),
    ).toThrow(/since must not be after until/);
    expect(() => parseBackfillEvent({ source: 'shopify', formIds: ['abc'] })).toThrow(/formIds only applies/);
  });

  it('does not take any event with a detail-type for the schedule', () => {
    expect(() => parseBackfillEvent({ ...scheduled, source: 'aws.partner/shopify.com/1/x' })).toThrow(
      ValidationError,
    );
  });
});

describe('events/backfill samples', () => {
  const dir = new URL('../../../events/backfill/', import.meta.url);
  const files = readdirSync(dir).filter((name) => name.endsWith('.json'));

  it.each(files)('%s is a valid backfill invocation', (name) => {
    const event: unknown = JSON.parse(readFileSync(new URL(name, dir), 'utf8'));
    const invocation = parseBackfillEvent(event);
    expect(invocation.kind).toBe(name.startsWith('scheduled') ? 'schedule' : 'request');
  });

  it('has the schedule and a request for each source', () => {
    expect(files.sort()).toEqual(['request-shopify.json', 'request-typeform.json', 'scheduled.json']);
  });
});
