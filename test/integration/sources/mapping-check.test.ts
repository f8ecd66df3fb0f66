import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI the way `npm run mapping:check -- …` does. */
async function mappingCheck(...args: string[]): Promise<Result> {
  try {
    const { stdout, stderr } = await run('npx', ['tsx', 'tools/mapping-check.ts', ...args], {
      env: { ...process.env, MAPPINGS_FILE: '', SHOPIFY_SHOP_DOMAIN: '', DEFAULT_PHONE_REGION: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

// Each case spawns the CLI (tsx start-up is seconds on a busy machine).
describe('npm run mapping:check', { timeout: 90_000 }, () => {
  it('prints the PatchJob a Typeform webhook sample produces', async () => {
    const result = await mappingCheck('test/fixtures/typeform/form-response.json');
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.status).toBe('mapped');
    expect(printed.outcome.kind).toBe('job');
    expect(printed.outcome.job.jobId).toBe('typeform:lT4Z3j:a3a12ec67a1365927098a606107fac15');
    expect(printed.outcome.job.patch.firstName).toBe('Zoë');
    expect(printed.outcome.dropped.map((d: { field: string }) => d.field)).toEqual([
      'deposit',
      'intro_video',
      'consent_signature',
    ]);
  });

  it('maps a Shopify order for the given shop, and a GraphQL node to the webhook jobId', async () => {
    const [order, graphql] = await Promise.all([
      mappingCheck('test/fixtures/shopify/order.json', '--source', 'shopify', '--shop', 'demo.myshopify.com'),
      mappingCheck('test/fixtures/shopify/graphql-customer.json', '--shop', 'demo.myshopify.com'),
    ]);
    expect(order.code).toBe(0);
    expect(JSON.parse(order.stdout).outcome.job.jobId).toBe(
      'shopify:demo.myshopify.com:order:820982911946154508:2026-11-26T07:06:00Z',
    );
    expect(JSON.parse(graphql.stdout).outcome.job.jobId).toBe(
      'shopify:demo.myshopify.com:customer:706405506930370084:2026-11-26T15:00:00Z',
    );
  });

  it('checks the events/ samples: the body of an HTTP API event, the payload of an EventBridge event', async () => {
    const [typeform, shopify, eventBridge] = await Promise.all([
      mappingCheck('events/typeform/form-response.json'),
      mappingCheck('events/shopify/orders-paid.json'),
      mappingCheck('events/eventbridge/customers-update.json'),
    ]);
    expect(typeform.code, typeform.stderr).toBe(0);
    expect(JSON.parse(typeform.stdout).outcome.job.jobId).toBe(
      'typeform:lT4Z3j:a3a12ec67a1365927098a606107fac15',
    );
    // Topic and shop come from the sample's headers / metadata.
    expect(shopify.code, shopify.stderr).toBe(0);
    expect(JSON.parse(shopify.stdout).outcome.job.jobId).toBe(
      'shopify:cleartalk-demo.myshopify.com:order:820982911946154508:2026-11-26T07:06:00Z',
    );
    expect(eventBridge.code, eventBridge.stderr).toBe(0);
    expect(JSON.parse(eventBridge.stdout).outcome.job.jobId).toBe(
      'shopify:cleartalk-demo.myshopify.com:customer:706405506930370084:2026-11-26T15:00:00Z',
    );
  });

  it('reports a topic the mapping file ignores, and the nothing-reason of a response without contact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mapping-check-'));
    const payload = join(dir, 'response.json');
    writeFileSync(
      payload,
      JSON.stringify({
        form_id: 'abc',
        token: 't1',
        submitted_at: '2026-11-26T10:00:00Z',
        answers: [{ type: 'text', text: 'Ada', field: { id: 'f', ref: 'first_name' } }],
      }),
    );
    const [ignored, nothing] = await Promise.all([
      mappingCheck(
        'test/fixtures/shopify/order.json',
        '--topic',
        'orders/paid',
        '--mappings',
        'mappings/example.json',
      ),
      mappingCheck(payload),
    ]);
    expect(ignored.code).toBe(0);
    expect(JSON.parse(ignored.stdout)).toEqual({
      status: 'ignored',
      reason: 'topic orders/paid is ignored for example.myshopify.com',
    });
    expect(nothing.code).toBe(0);
    expect(JSON.parse(nothing.stdout).outcome).toEqual({
      kind: 'nothing',
      reason: 'no contact id, email or phone to find the contact by',
      dropped: [],
    });
  });

  it('exits 1 listing every problem of a bad mapping file or payload, 2 on a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mapping-check-'));
    const badMappings = join(dir, 'bad.json');
    writeFileSync(
      badMappings,
      JSON.stringify({ typeform: { defaults: { ignored: 'no', fieldMap: { a: 'nope' } } } }),
    );
    const badPayload = join(dir, 'customer.json');
    writeFileSync(badPayload, JSON.stringify({ id: 'x', first_name: 'Secret Name' }));
    const [mappings, payload, usage] = await Promise.all([
      mappingCheck('test/fixtures/shopify/customer.json', '--mappings', badMappings),
      mappingCheck(badPayload, '--topic', 'customers/update'),
      mappingCheck(),
    ]);
    expect(mappings.code).toBe(1);
    expect(mappings.stderr).toContain(`${badMappings}: typeform.defaults.fieldMap.a`);
    expect(mappings.stderr).toContain(`${badMappings}: typeform.defaults.ignored`);
    expect(payload.code).toBe(1);
    expect(payload.stderr).toMatch(/not a valid customers\/update payload: id: .*updated_at/);
    expect(payload.stderr).not.toContain('Secret Name');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^usage: mapping-check/);
  });
});
