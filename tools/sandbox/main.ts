import { startSandbox } from './server.js';

/**
 * `npm run sandbox`: the ClearTalk sandbox on SANDBOX_PORT (default 4010) with the key in
 * SANDBOX_API_KEY (default `sandbox-key`), seeded from SANDBOX_SEED_FILE when set.
 * Ctrl-C stops it.
 */
const port = Number(process.env.SANDBOX_PORT ?? 4010);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write(`SANDBOX_PORT must be a port number (0-65535)\n`);
  process.exit(1);
}
const seedFile = process.env.SANDBOX_SEED_FILE?.trim();
const sandbox = await startSandbox({
  port,
  host: process.env.SANDBOX_HOST ?? '127.0.0.1',
  apiKey: process.env.SANDBOX_API_KEY || 'sandbox-key',
  ...(seedFile ? { seedFile } : {}),
  quiet: true,
});
process.stdout.write(
  `ClearTalk sandbox listening on ${sandbox.url}\n` +
    `  x-api-key: ${sandbox.apiKey}\n` +
    `  contacts seeded: ${sandbox.contacts().length}\n` +
    `  control: GET ${sandbox.url}/__sandbox/contacts, GET /__sandbox/requests, POST /__sandbox/{faults,script,seed,reset,api-key}\n` +
    `Ctrl-C stops it.\n`,
);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void sandbox.stop().then(() => process.exit(0));
  });
}
