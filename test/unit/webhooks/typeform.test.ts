import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { DeliveryStore } from '../../../lib/aws/deliveries.js';
import { PatchJobSchema } from '../../../lib/jobs/patch-job.js';
import { loadMappingConfig, parseMappingConfig } from '../../../lib/sources/mapping-config.js';
import { handleTypeformDelivery } from '../../../lib/webhooks/typeform.js';
import {
  answerBody,
  TYPEFORM_SECRET,
  typeformEvent,
  typeformPayload,
  withoutHeader,
} from '../../helpers/events.js';
import { typeformDeps } from '../../helpers/webhook-deps.js';

describe('handleTypeformDelivery', () => {
  it('enqueues a signed form_response as one PatchJob and answers 200 accepted', async () => {
    const { deps, sqs } = typeformDeps();
    const response = await handleTypeformDelivery(typeformEvent(), deps);
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    const jobId = 'typeform:lT4Z3j:a3a12ec67a1365927098a606107fac15';
    expect(answerBody(response)).toEqual({ status: 'accepted', jobId });
    expect(sqs.sent).toHaveLength(1);
    const job = PatchJobSchema.parse(sqs.jobs()[0]);
    expect(job).toMatchObject({ jobId, source: 'typeform', match: { email: 'ada@example.com' } });
    expect(job.patch).toMatchObject({ firstName: 'Ada', lastName: 'Lovelace', phone: '+12025550143' });
    expect(sqs.sent[0]).toMatchObject({
      MessageGroupId: 'ada@example.com',
      QueueUrl: 'https://sqs.local/patch.fifo',
    });
  });

  it('answers 401 to a missing signature, enqueues nothing and logs one line without the secret', async () => {
    const { deps, sqs, logger } = typeformDeps();
    const response = await handleTypeformDelivery(withoutHeader(typeformEvent(), 'typeform-signature'), deps);
    expect(response.statusCode).toBe(401);
    expect(answerBody(response).error).toBe('invalid-signature');
    expect(sqs.sent).toHaveLength(0);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ level: 'warn', extra: { reason: 'missing-header' } });
    expect(logger.text()).not.toContain(TYPEFORM_SECRET);
  });

  it('answers 401 to a signature made with the wrong secret', async () => {
    const { deps, sqs, logger } = typeformDeps();
    const response = await handleTypeformDelivery(typeformEvent({ secret: 'not-the-secret' }), deps);
    expect(response.statusCode).toBe(401);
    expect(sqs.sent).toHaveLength(0);
    expect(logger.lines[0]?.extra.reason).toBe('mismatch');
  });

  it('answers 401 to a hex digest', async () => {
    const { deps } = typeformDeps();
    const body = JSON.stringify(typeformPayload());
    const hex = `sha256=${createHmac('sha256', TYPEFORM_SECRET).update(body).digest('hex')}`;
    const response = await handleTypeformDelivery(
      typeformEvent({ body, headers: { 'typeform-signature': hex } }),
      deps,
    );
    expect(response.statusCode).toBe(401);
  });

  it('answers 401 when the signature was computed over a re-serialised body', async () => {
    const { deps } = typeformDeps();
    const sent = JSON.stringify(typeformPayload(), null, 2);
    const signedOver = typeformEvent({ body: JSON.stringify(typeformPayload()) });
    const event = { ...typeformEvent({ body: sent }), headers: signedOver.headers };
    expect((await handleTypeformDelivery(event, deps)).statusCode).toBe(401);
  });

  it('verifies with a secret stored with a trailing newline, and refuses a signature keyed with the newline', async () => {
    const { deps, secrets } = typeformDeps();
    secrets.values['typeform-secret'] = `${TYPEFORM_SECRET}\n`;
    expect((await handleTypeformDelivery(typeformEvent(), deps)).statusCode).toBe(200);
    const keyedWithNewline = typeformEvent({ secret: `${TYPEFORM_SECRET}\n` });
    expect((await handleTypeformDelivery(keyedWithNewline, deps)).statusCode).toBe(401);
  });

  it('accepts the previous secret while a rotation is under way', async () => {
    const { deps, secrets, logger } = typeformDeps();
    secrets.values['typeform-secret'] = JSON.stringify({ value: 'new-secret', previous: TYPEFORM_SECRET });
    expect((await handleTypeformDelivery(typeformEvent(), deps)).statusCode).toBe(200);
    expect((await handleTypeformDelivery(typeformEvent({ secret: 'new-secret' }), deps)).statusCode).toBe(
      200,
    );
    expect(logger.lines.some((line) => line.message.includes('previous secret'))).toBe(true);
  });

  it('re-reads the secret once after a mismatch when the gate allows, so a rotation does not cause 401s', async () => {
    const { deps, secrets } = typeformDeps({ allowSecretRefresh: () => true });
    const event = typeformEvent({ secret: 'rotated' });
    secrets.values['typeform-secret'] = 'rotated';
    // The reader returns the new value only on a forced refresh, like a warm cache would.
    const stale = secrets.get.bind(secrets);
    secrets.get = async (id, options) =>
      options?.forceRefresh ? stale(id, options) : { value: TYPEFORM_SECRET };
    expect((await handleTypeformDelivery(event, deps)).statusCode).toBe(200);
  });

  it('verifies and parses a base64-flagged body from its decoded bytes', async () => {
    const { deps, sqs } = typeformDeps();
    const response = await handleTypeformDelivery(typeformEvent({ base64: true }), deps);
    expect(response.statusCode).toBe(200);
    expect(sqs.sent).toHaveLength(1);
  });

  it('answers 400 invalid-json to a signed empty body', async () => {
    const { deps, sqs } = typeformDeps();
    const response = await handleTypeformDelivery(typeformEvent({ body: '' }), deps);
    expect(response.statusCode).toBe(400);
    expect(answerBody(response).error).toBe('invalid-json');
    expect(sqs.sent).toHaveLength(0);
  });

  it('answers 400 invalid-json to a signed body that is not JSON', async () => {
    const { deps } = typeformDeps();
    const response = await handleTypeformDelivery(typeformEvent({ body: 'event_id=1&secret=x' }), deps);
    expect(response.statusCode).toBe(400);
    expect(answerBody(response)).toMatchObject({ error: 'invalid-json' });
  });

  it('answers 400 invalid-payload to a signed JSON array', async () => {
    const { deps } = typeformDeps();
    const response = await handleTypeformDelivery(
      typeformEvent({ body: JSON.stringify([typeformPayload()]) }),
      deps,
    );
    expect(response.statusCode).toBe(400);
    expect(answerBody(response)).toMatchObject({ error: 'invalid-payload' });
    expect(String(answerBody(response).message)).toContain('array');
  });

  it('answers 413 to a body over 1 MiB before reading the secret', async () => {
    const { deps, secrets } = typeformDeps();
    const big = JSON.stringify(typeformPayload({ padding: 'x'.repeat(1024 * 1024) }));
    const response = await handleTypeformDelivery(typeformEvent({ body: big }), deps);
    expect(response.statusCode).toBe(413);
    expect(answerBody(response).error).toBe('payload-too-large');
    expect(secrets.reads).toHaveLength(0);
  });

  it('answers 400 naming the missing fields by path, without echoing payload values', async () => {
    const { deps, sqs } = typeformDeps();
    const payload = typeformPayload({ form_response: { form_id: undefined, token: undefined } });
    const response = await handleTypeformDelivery(typeformEvent({ payload }), deps);
    expect(response.statusCode).toBe(400);
    const body = answerBody(response);
    expect(body.error).toBe('invalid-payload');
    expect((body.issues as string[]).join('\n')).toMatch(/form_response\.form_id/);
    expect(response.body).not.toContain('example.com');
    expect(sqs.sent).toHaveLength(0);
  });

  it('answers 400 to a body without event_type, naming the field', async () => {
    const { deps, sqs } = typeformDeps();
    const payload = typeformPayload({ event_type: undefined });
    const response = await handleTypeformDelivery(typeformEvent({ payload }), deps);
    expect(response.statusCode).toBe(400);
    expect((answerBody(response).issues as string[]).join('\n')).toMatch(/event_type/);
    expect(sqs.sent).toHaveLength(0);
  });

  it('ignores a partial response unless the form enables them', async () => {
    const { deps, sqs } = typeformDeps();
    const partial = typeformPayload({ event_type: 'form_response_partial' });
    const response = await handleTypeformDelivery(typeformEvent({ payload: partial }), deps);
    expect(answerBody(response)).toMatchObject({ status: 'ignored' });
    expect(String(answerBody(response).reason)).toContain('partial');
    expect(sqs.sent).toHaveLength(0);
  });

  it('enqueues a partial response of a form that enables them, under a jobId the completed response cannot collide with', async () => {
    const mapping = parseMappingConfig(
      { version: 1, typeform: { forms: { lT4Z3j: { partialResponses: true } } } },
      'test',
    );
    const { deps, sqs } = typeformDeps({ mapping });
    const partial = typeformPayload({ event_type: 'form_response_partial', event_id: 'partial-1' });
    const response = await handleTypeformDelivery(typeformEvent({ payload: partial }), deps);
    expect(answerBody(response)).toMatchObject({ status: 'accepted' });
    expect(sqs.jobs()[0]?.jobId).toBe('typeform:lT4Z3j:a3a12ec67a1365927098a606107fac15:partial:partial-1');
  });

  it('ignores an event type it does not know with 200', async () => {
    const { deps, sqs } = typeformDeps();
    const response = await handleTypeformDelivery(
      typeformEvent({ payload: typeformPayload({ event_type: 'form_deleted' }) }),
      deps,
    );
    expect(response.statusCode).toBe(200);
    expect(answerBody(response).status).toBe('ignored');
    expect(sqs.sent).toHaveLength(0);
  });

  it('ignores a response that gives nothing to match a contact by, with the reason', async () => {
    const { deps, sqs } = typeformDeps();
    const payload = typeformPayload({
      form_response: {
        answers: [{ type: 'number', number: 1, field: { id: 'n', type: 'number', ref: 'score' } }],
      },
    });
    const response = await handleTypeformDelivery(typeformEvent({ payload }), deps);
    expect(response.statusCode).toBe(200);
    expect(answerBody(response)).toMatchObject({ status: 'ignored' });
    expect(typeof answerBody(response).reason).toBe('string');
    expect(sqs.sent).toHaveLength(0);
  });

  it('answers duplicate to a redelivered event_id without enqueueing again', async () => {
    const { deps, sqs } = typeformDeps();
    expect(answerBody(await handleTypeformDelivery(typeformEvent(), deps)).status).toBe('accepted');
    const again = answerBody(await handleTypeformDelivery(typeformEvent(), deps));
    expect(again).toMatchObject({ status: 'duplicate', deliveryId: '01HTESTEVENT0000000000000' });
    expect(sqs.sent).toHaveLength(1);
  });

  it('answers 503 when the queue fails and records nothing, so the retry is enqueued', async () => {
    const { deps, sqs, deliveries } = typeformDeps();
    sqs.fail = true;
    const failed = await handleTypeformDelivery(typeformEvent(), deps);
    expect(failed.statusCode).toBe(503);
    expect(answerBody(failed).error).toBe('unavailable');
    expect(deliveries.size()).toBe(0);
    sqs.fail = false;
    expect(answerBody(await handleTypeformDelivery(typeformEvent(), deps)).status).toBe('accepted');
    expect(sqs.sent).toHaveLength(1);
  });

  it('still enqueues when the delivery check fails', async () => {
    const broken: DeliveryStore = {
      hasDelivery: () => Promise.reject(new Error('dynamodb down')),
      recordDelivery: () => Promise.reject(new Error('dynamodb down')),
    };
    const { deps, sqs, logger } = typeformDeps({ deliveries: broken });
    const response = await handleTypeformDelivery(typeformEvent(), deps);
    expect(answerBody(response).status).toBe('accepted');
    expect(sqs.sent).toHaveLength(1);
    expect(logger.lines.filter((line) => line.level === 'warn')).toHaveLength(2);
  });

  it('answers 503 misconfigured when the secret does not exist, so the platform retries', async () => {
    const { deps } = typeformDeps({ secretId: 'no-such-secret' });
    const response = await handleTypeformDelivery(typeformEvent(), deps);
    expect(response.statusCode).toBe(503);
    expect(answerBody(response).error).toBe('misconfigured');
  });

  it('keeps unicode names intact', async () => {
    const { deps, sqs } = typeformDeps();
    const payload = typeformPayload();
    const answers = (payload.form_response as { answers: Array<Record<string, unknown>> }).answers;
    answers[0] = { ...answers[0], text: 'Zoë 大久保' };
    answers[1] = { ...answers[1], text: 'Ōkubo-Ñúñez' };
    const response = await handleTypeformDelivery(typeformEvent({ payload, base64: true }), deps);
    expect(response.statusCode).toBe(200);
    expect(sqs.jobs()[0]?.patch).toMatchObject({ firstName: 'Zoë 大久保', lastName: 'Ōkubo-Ñúñez' });
  });

  it('logs fields left out by name and reason, never their values', async () => {
    const { deps, sqs, logger } = typeformDeps();
    const payload = typeformPayload();
    const answers = (payload.form_response as { answers: Array<Record<string, unknown>> }).answers;
    answers[3] = { ...answers[3], phone_number: '12-not-a-phone-98' };
    const response = await handleTypeformDelivery(typeformEvent({ payload }), deps);
    expect(answerBody(response).status).toBe('accepted');
    expect(sqs.jobs()[0]?.patch.phone).toBeUndefined();
    const line = logger.lines.find((l) => l.message === 'fields left out');
    expect(line?.extra.dropped).toEqual([expect.objectContaining({ field: 'phone' })]);
    expect(logger.text()).not.toContain('not-a-phone');
    expect(logger.text()).not.toContain('example.com');
  });

  it('uses the bundled mapping defaults when no mapping file is configured', () => {
    expect(loadMappingConfig('').typeform.defaults.partialResponses).toBe(false);
  });
});
