import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { contactKey, deduplicationId, PatchJobSchema } from '../../../../lib/jobs/patch-job.js';
import { PROJECT_ROOT } from '../../../../tools/build/package.js';

const dir = join(PROJECT_ROOT, 'events', 'apply-patches');
const read = (name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8')) as SQSEvent;

describe('events/apply-patches samples', () => {
  it('are SQS FIFO events of at most 10 records from the patch queue', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) {
      const event = read(file);
      expect(event.Records.length).toBeGreaterThan(0);
      expect(event.Records.length).toBeLessThanOrEqual(10);
      for (const record of event.Records) {
        expect(record.eventSource).toBe('aws:sqs');
        expect(record.eventSourceARN).toMatch(/-patches\.fifo$/);
        expect(record.attributes.MessageGroupId).toBeTruthy();
        expect(record.attributes.ApproximateReceiveCount).toBe('1');
      }
    }
  });

  it('carry valid PatchJobs grouped and deduplicated as producers send them (batch.json)', () => {
    for (const record of read('batch.json').Records) {
      const job = PatchJobSchema.parse(JSON.parse(record.body));
      expect(record.attributes.MessageGroupId).toBe(contactKey(job));
      expect(record.attributes.MessageDeduplicationId).toBe(deduplicationId(job.jobId));
    }
  });

  it('include an invalid job for the dead-letter path (invalid-job.json)', () => {
    const [record] = read('invalid-job.json').Records;
    expect(PatchJobSchema.safeParse(JSON.parse(record?.body ?? '')).success).toBe(false);
  });
});
