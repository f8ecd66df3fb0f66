import { describe, expect, it } from 'vitest';
import { describeStack } from '../../../../tools/local/stack.js';

const stackOn = (port: number): Parameters<typeof describeStack>[0] => ({
  url: `http://127.0.0.1:${port}`,
  routes: { typeformWebhook: `http://127.0.0.1:${port}/webhooks/typeform` },
  clearTalkBaseUrl: 'http://127.0.0.1:4010',
  awsEndpoint: 'http://127.0.0.1:5000',
  typeformApi: { url: 'http://127.0.0.1:4020', tokenSecretId: 'local/typeform-api-token' },
  environment: { PATCH_QUEUE_URL: 'http://127.0.0.1:5000/123/local-patches.fifo' },
});

describe('describeStack (the npm start banner)', () => {
  it('names the port the routes listen on in the next command, e.g. the free port PORT=0 picked', () => {
    const banner = describeStack(stackOn(43210));
    expect(banner).toContain('  PORT=43210 npm run send -- typeform events/typeform/form-response.json');
    expect(banner).not.toContain('PORT=0');
  });

  it('names port 80, which the URL of the routes leaves out', () => {
    expect(describeStack(stackOn(80))).toContain('  PORT=80 npm run send -- typeform');
  });

  it('leaves PORT out on the default port', () => {
    expect(describeStack(stackOn(3000))).toContain(
      '\n  npm run send -- typeform events/typeform/form-response.json',
    );
  });
});
