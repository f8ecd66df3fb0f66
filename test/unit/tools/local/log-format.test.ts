import { describe, expect, it } from 'vitest';
import { formatLogLine } from '../../../../tools/local/log-format.js';

describe('formatLogLine', () => {
  it('turns a worker job line into one short outcome line', () => {
    const line = JSON.stringify({
      level: 'INFO',
      message: 'patch job',
      timestamp: '2026-11-27T01:02:03.456Z',
      service: 'cleartalk-contact-sync',
      function: 'apply-patches',
      outcome: 'applied',
      jobId: 'typeform:f:t',
      contactId: '123',
      sent: ['firstName'],
    });
    expect(formatLogLine(line)).toBe(
      '01:02:03 apply-patches       INFO  job applied typeform:f:t contact=123 sent=["firstName"]',
    );
  });

  it('drops embedded-metric blobs and passes plain text through', () => {
    expect(formatLogLine('{"_aws":{"Timestamp":1},"jobsApplied":1}')).toBeUndefined();
    expect(formatLogLine('plain text')).toBe('plain text');
    expect(formatLogLine('{not json')).toBe('{not json');
  });

  it('keeps the message and extra keys of other lines', () => {
    const line =
      '{"level":"WARN","message":"circuit breaker","timestamp":"2026-11-27T01:02:03Z","function":"apply-patches","breaker":"open"}';
    expect(formatLogLine(line)).toBe('01:02:03 apply-patches       WARN  circuit breaker breaker=open');
  });
});
