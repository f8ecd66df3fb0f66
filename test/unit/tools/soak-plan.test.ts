import { describe, expect, it } from 'vitest';
import { type PatchJob, PatchJobSchema } from '../../../lib/jobs/patch-job.js';
import { PERMANENT_REASONS, planSoak, SOAK_FIELDS } from '../../../tools/soak/plan.js';

const plan = planSoak({ jobs: 1_000, seed: 3 });
const deliveries = plan.waves.flat();
const firsts = deliveries.filter((d) => d.kind === 'first');
const jobs = firsts.flatMap((d) => {
  const parsed = PatchJobSchema.safeParse(JSON.parse(d.body));
  return parsed.success ? [parsed.data] : [];
});
const contactOf = (job: PatchJob) =>
  job.contactId ?? /customer:(\d+)$/.exec(job.match?.externalKey ?? '')?.[1]?.replace(/^700/, '');

describe('planSoak', () => {
  it('gives the same plan for the same seed and another for another seed', () => {
    expect(JSON.stringify(planSoak({ jobs: 1_000, seed: 3 }).waves)).toBe(JSON.stringify(plan.waves));
    expect(JSON.stringify(planSoak({ jobs: 1_000, seed: 4 }).waves)).not.toBe(JSON.stringify(plan.waves));
  });

  it('plans the requested number of deliveries in waves of the requested size', () => {
    expect(deliveries).toHaveLength(plan.counts.jobs);
    expect(Math.abs(plan.counts.jobs - 1_000)).toBeLessThanOrEqual(5);
    expect(plan.waves.slice(0, -1).every((wave) => wave.length === 100)).toBe(true);
  });

  it('sends each redelivery after its original, same body, other deduplication id', () => {
    const position = new Map(deliveries.map((d, i) => [d, i]));
    const redeliveries = deliveries.filter((d) => d.kind === 'redelivery');
    expect(redeliveries).toHaveLength(plan.counts.redeliveries);
    expect(plan.counts.redeliveries).toBeGreaterThanOrEqual(80);
    for (const copy of redeliveries) {
      const original = firsts.find((d) => d.jobId === copy.jobId);
      expect(original?.body).toBe(copy.body);
      expect(original?.groupId).toBe(copy.groupId);
      expect(original?.deduplicationId).not.toBe(copy.deduplicationId);
      expect(position.get(copy) ?? -1).toBeGreaterThan(position.get(original as never) ?? Infinity);
    }
  });

  it('plants each kind of permanent job, and only those are invalid or unknown', () => {
    const reasons = [...plan.permanent.values()];
    for (const reason of Object.values(PERMANENT_REASONS)) {
      expect(reasons.filter((r) => r === reason).length).toBeGreaterThanOrEqual(3);
    }
    const invalid = firsts.filter((d) => !PatchJobSchema.safeParse(JSON.parse(d.body)).success);
    expect(invalid.map((d) => plan.permanent.get(d.jobId))).toEqual(invalid.map(() => 'invalid-job'));
  });

  it('sends every stale change after a newer change to the same field of the same contact', () => {
    let stale = 0;
    jobs.forEach((job, index) => {
      const earlier = jobs.slice(0, index).filter((j) => contactOf(j) === contactOf(job));
      const newer = earlier.find(
        (j) =>
          Date.parse(j.occurredAt) > Date.parse(job.occurredAt) &&
          SOAK_FIELDS.some((f) => j.patch[f] && job.patch[f]),
      );
      if (newer) stale++;
    });
    expect(stale).toBeGreaterThanOrEqual(plan.counts.stale * 0.5);
    expect(plan.counts.stale).toBeGreaterThanOrEqual(60);
  });

  it('expects, per contact and field, the value of the change with the latest occurredAt', () => {
    const want = plan.expected.find((c) =>
      jobs.some((j) => j.contactId === String(c.id) && j.patch.firstName),
    );
    const id = String(want?.id);
    const latest = jobs
      .filter((j) => j.contactId === id && j.patch.firstName !== undefined)
      .sort((a, b) => Date.parse(b.occurredAt) - Date.parse(a.occurredAt))[0];
    expect(want?.fields.firstName).toBe(latest?.patch.firstName);
    // The other source's keys are part of every expected customField.
    expect(plan.expected.every((c) => c.customField.crm_score === c.id)).toBe(true);
  });

  it('reaches linked contacts by external key only, unless cross-group jobs are asked for', () => {
    const linked = new Set(
      plan.linksCsv
        .trim()
        .split('\n')
        .slice(1)
        .map((row) => row.split(',')[0]),
    );
    expect(jobs.filter((j) => j.contactId && linked.has(j.contactId))).toHaveLength(0);
    expect(plan.counts.byExternalKey).toBeGreaterThan(100);
    const crossed = planSoak({ jobs: 1_000, seed: 3, crossGroupShare: 0.5 });
    expect(crossed.counts.crossGroup).toBeGreaterThan(20);
  });
});
