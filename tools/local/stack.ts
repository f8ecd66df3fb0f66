/**
 * `npm start`: the whole flow on this machine in one command (issue 6 §2).
 *
 * moto_server (AWS) → provision the queue, dead-letter queue and table (`provisionStack`, the
 * same infra/resources.yml as the deploy) → seed the secrets → the ClearTalk sandbox (unless
 * CLEARTALK_BASE_URL is set) → the two webhook routes of serverless.yml served over HTTP by the
 * REAL handlers → the worker fed from the FIFO queue by the SQS poller (real event shape,
 * batch-failure semantics). Ctrl-C stops everything.
 *
 * Environment: PORT (3000), LOCAL_TYPEFORM_SECRET, LOCAL_SHOPIFY_SECRET (see tools/local/defaults.ts),
 * CLEARTALK_BASE_URL + LOCAL_CLEARTALK_API_KEY (drive a real ClearTalk account instead of the
 * sandbox), and for tooling: LOCAL_MOTO_ENDPOINT (use a running moto instead of starting one),
 * LOCAL_STACK_PREFIX (resource-name prefix, default `local`), LOCAL_RETRY_VISIBILITY_SECONDS
 * (how soon a failed record comes back, default 10; Lambda waits the queue's visibility timeout),
 * and MAX_RECEIVE_COUNT (default 5; the queue's redrive is one more, as deployed).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createLinkStore, type LinkKeys } from '../../lib/aws/links.js';
import { PROJECT_ROOT } from '../build/package.js';
import { provisionStack } from '../provision.js';
import type { Sandbox } from '../sandbox/server.js';
import { startSandbox } from '../sandbox/server.js';
import { startTypeformApiStandin } from '../standins/typeform-api.js';
import { LOCAL_DEFAULTS, localShopifySecret, localTypeformSecret } from './defaults.js';
import { type HttpApiHandler, type LocalHttpApi, loadServerlessFunctions, startHttpApi } from './http-api.js';
import { formatStreamLines } from './log-format.js';
import { localAwsEnv, startMoto } from './moto.js';
import { type SqsBatchHandler, type SqsPoller, startSqsPoller } from './sqs-poller.js';

type Env = Record<string, string | undefined>;

export interface LocalStackOptions {
  /** Where the settings come from (see the file comment). @default process.env */
  readonly env?: Env;
  /** Progress and request lines. @default silent */
  readonly log?: (line: string) => void;
}

/** A running local stack. */
export interface LocalStack {
  /** Base URL of the webhook routes, e.g. http://127.0.0.1:3000 */
  readonly url: string;
  /** `POST` routes by function name. */
  readonly routes: Readonly<Record<string, string>>;
  readonly clearTalkBaseUrl: string;
  /** The in-process sandbox; undefined when CLEARTALK_BASE_URL points at a real account. */
  readonly sandbox?: Sandbox;
  readonly awsEndpoint: string;
  /** The Typeform Responses API stand-in and the moto secret holding its token (for the backfill). */
  readonly typeformApi: { readonly url: string; readonly tokenSecretId: string };
  /** The contract variables the functions run with (queue URLs, secret ids…; no secret values). */
  readonly environment: Readonly<Record<string, string>>;
  readonly poller: SqsPoller;
  stop(): Promise<void>;
}

interface DemoSeed {
  contacts: Array<{ id: number } & Record<string, unknown>>;
  links: Array<{ contactId: string; match: LinkKeys }>;
}

const DEMO_SEED_FILE = join(PROJECT_ROOT, 'tools', 'local', 'demo-seed.json');

async function putSecret(client: SecretsManagerClient, name: string, value: string): Promise<void> {
  try {
    await client.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  } catch (error) {
    if (!(error instanceof ResourceExistsException)) throw error;
    await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
  }
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
  return value;
}

/**
 * Starts the local stack; everything it started is stopped again if a later step fails.
 * @throws {Error} naming `pip install "moto[server]"` when moto_server is missing, or the step that failed
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const stoppers: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => {});
    stoppers.length = 0;
  };
  try {
    const port = positiveInt(env, 'PORT', 3000);
    const prefix = env.LOCAL_STACK_PREFIX?.trim() || 'local';
    const functions = loadServerlessFunctions(join(PROJECT_ROOT, 'serverless.yml'));

    // 1. AWS: moto (or an endpoint already running), reached through the SDK's own settings.
    let awsEndpoint = env.LOCAL_MOTO_ENDPOINT?.trim();
    if (!awsEndpoint) {
      log('starting moto_server…');
      const moto = await startMoto();
      stoppers.push(() => moto.stop());
      awsEndpoint = moto.endpoint;
    }
    Object.assign(process.env, localAwsEnv(awsEndpoint));

    // 2. The queue, dead-letter queue and table, from infra/resources.yml. The queue's redrive is
    // one receive after the worker's own dead-lettering, as in the deploy (infra/variables.cjs).
    const maxReceiveCount = positiveInt(env, 'MAX_RECEIVE_COUNT', 5);
    if (maxReceiveCount < 1) throw new Error('MAX_RECEIVE_COUNT must be a positive integer');
    const stack = await provisionStack({ prefix, log, redriveMaxReceiveCount: maxReceiveCount + 1 });
    const sqs = new SQSClient({});
    const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}));

    // 3. ClearTalk: the sandbox with demo contacts, or a real account.
    const realBaseUrl = env.CLEARTALK_BASE_URL?.trim();
    let sandbox: Sandbox | undefined;
    let apiKey: string;
    if (realBaseUrl) {
      const key = env.LOCAL_CLEARTALK_API_KEY?.trim();
      if (!key)
        throw new Error('CLEARTALK_BASE_URL is set: also set LOCAL_CLEARTALK_API_KEY (the API key to seed)');
      apiKey = key;
    } else {
      const seed = JSON.parse(readFileSync(DEMO_SEED_FILE, 'utf8')) as DemoSeed;
      sandbox = await startSandbox({ port: 0, apiKey: 'sandbox-key', quiet: true });
      stoppers.push(() => (sandbox as Sandbox).stop());
      sandbox.seed(seed.contacts);
      const links = createLinkStore({ client: doc, tableName: stack.STATE_TABLE_NAME });
      for (const link of seed.links) await links.putLinks(link.contactId, link.match);
      apiKey = sandbox.apiKey;
    }
    const clearTalkBaseUrl = realBaseUrl ?? (sandbox as Sandbox).url;

    // 3b. A Typeform Responses API stand-in, for the backfill (`serverless invoke local`).
    const typeformApi = await startTypeformApiStandin({
      token: LOCAL_DEFAULTS.typeformApiToken,
      forms: { [LOCAL_DEFAULTS.typeformForm]: { count: 30 } },
      newestAt: LOCAL_DEFAULTS.typeformNewestAt,
    });
    stoppers.push(() => typeformApi.stop());

    // 4. Secrets, under the names the functions are configured with.
    const secrets = new SecretsManagerClient({});
    const secretIds = {
      TYPEFORM_WEBHOOK_SECRET_ID: `${prefix}/typeform-webhook-secret`,
      SHOPIFY_WEBHOOK_SECRET_ID: `${prefix}/shopify-webhook-secret`,
      CLEARTALK_API_KEY_SECRET_ID: `${prefix}/cleartalk-api-key`,
    };
    // Not a function's variable here (the stack runs no backfill): named in the banner.
    const typeformApiTokenSecretId = `${prefix}/typeform-api-token`;
    await putSecret(secrets, typeformApiTokenSecretId, LOCAL_DEFAULTS.typeformApiToken);
    await putSecret(secrets, secretIds.TYPEFORM_WEBHOOK_SECRET_ID, localTypeformSecret(env));
    await putSecret(secrets, secretIds.SHOPIFY_WEBHOOK_SECRET_ID, localShopifySecret(env));
    await putSecret(secrets, secretIds.CLEARTALK_API_KEY_SECRET_ID, apiKey);

    // 5. The functions' environment (they read it at import, i.e. at "cold start").
    const environment: Record<string, string> = {
      ...stack,
      ...secretIds,
      CLEARTALK_BASE_URL: clearTalkBaseUrl,
      MAX_RECEIVE_COUNT: String(maxReceiveCount),
      POWERTOOLS_LOG_LEVEL: env.POWERTOOLS_LOG_LEVEL?.trim() || 'INFO',
    };
    Object.assign(process.env, environment);
    const load = async <T>(modulePath: string, exportName: string): Promise<T> => {
      const module = (await import(pathToFileURL(join(PROJECT_ROOT, modulePath)).href)) as Record<
        string,
        unknown
      >;
      const handler = module[exportName];
      if (typeof handler !== 'function') throw new Error(`${modulePath} does not export ${exportName}()`);
      return handler as T;
    };

    // 6. The webhook routes of serverless.yml with the real handlers.
    const httpFunctions = functions.filter((fn) => fn.httpRoutes.length > 0);
    const routes = await Promise.all(
      httpFunctions.flatMap((fn) =>
        fn.httpRoutes.map(async (route) => ({
          ...route,
          functionName: fn.name,
          timeoutMs: fn.timeoutSeconds * 1_000,
          handler: await load<HttpApiHandler>(fn.modulePath, fn.exportName),
        })),
      ),
    );
    const api: LocalHttpApi = await startHttpApi({
      routes,
      port,
      onInvoke: ({ functionName, statusCode, durationMs }) =>
        log(`${functionName} answered ${statusCode} in ${durationMs} ms`),
      onError: (functionName, error) =>
        log(`${functionName} threw: ${(error as Error)?.stack ?? String(error)}`),
    });
    stoppers.push(() => api.stop());

    // 7. The worker, fed from the FIFO queue like Lambda's event source mapping.
    const workerFn = functions.find((fn) => fn.sqsBatchSize !== undefined);
    if (!workerFn) throw new Error('serverless.yml has no function with an sqs event');
    const poller = await startSqsPoller({
      sqs,
      queueUrl: stack.PATCH_QUEUE_URL,
      handler: await load<SqsBatchHandler>(workerFn.modulePath, workerFn.exportName),
      batchSize: workerFn.sqsBatchSize ?? 10,
      functionTimeoutMs: workerFn.timeoutSeconds * 1_000,
      functionName: workerFn.name,
      retryVisibilitySeconds: positiveInt(env, 'LOCAL_RETRY_VISIBILITY_SECONDS', 10),
      onReport: (report) => {
        if (report.batchError !== undefined) {
          log(`${workerFn.name} failed the whole batch of ${report.received}: ${String(report.batchError)}`);
        }
      },
      onError: (error) => log(`SQS poll failed: ${(error as Error)?.message ?? String(error)}`),
    });
    stoppers.push(() => poller.stop());

    return {
      url: api.url,
      routes: Object.fromEntries(routes.map((route) => [route.functionName, `${api.url}${route.path}`])),
      clearTalkBaseUrl,
      ...(sandbox ? { sandbox } : {}),
      awsEndpoint,
      typeformApi: { url: typeformApi.url, tokenSecretId: typeformApiTokenSecretId },
      environment,
      poller,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The start-up banner: URLs and what to try next. */
export function describeStack(
  stack: Pick<
    LocalStack,
    'url' | 'routes' | 'sandbox' | 'clearTalkBaseUrl' | 'awsEndpoint' | 'typeformApi' | 'environment'
  >,
): string {
  // The port the routes really listen on (PORT=0 picks a free one): what `npm run send` needs.
  // (URL drops a default port: http on 80 has port ''.)
  const port = Number(new URL(stack.url).port || 80);
  const portPrefix = port === LOCAL_DEFAULTS.port ? '' : `PORT=${port} `;
  const lines = [
    'cleartalk-contact-sync is running locally',
    ...Object.entries(stack.routes).map(([fn, url]) => `  POST ${url}  (${fn})`),
    stack.sandbox
      ? `  ClearTalk sandbox  ${stack.clearTalkBaseUrl}  (x-api-key: ${stack.sandbox.apiKey}; demo contacts 123, 4711, 4712; GET /__sandbox/contacts, /__sandbox/requests)`
      : `  ClearTalk          ${stack.clearTalkBaseUrl}  (real account: the key from LOCAL_CLEARTALK_API_KEY)`,
    `  AWS (moto)         ${stack.awsEndpoint}  queue ${stack.environment.PATCH_QUEUE_URL}`,
    `  Typeform API       ${stack.typeformApi.url}  (stand-in for the backfill: token secret ${stack.typeformApi.tokenSecretId}, form ${LOCAL_DEFAULTS.typeformForm})`,
    `  worker             polling the queue; one line per job outcome below`,
    '',
    'Try:',
    `  ${portPrefix}npm run send -- typeform events/typeform/form-response.json`,
    `  ${portPrefix}npm run send -- shopify events/shopify/customers-update.json`,
    'Ctrl-C stops everything.',
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const restoreStdout = formatStreamLines(process.stdout);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
  let stack: LocalStack;
  try {
    stack = await startLocalStack({ log });
  } catch (error) {
    restoreStdout();
    process.stderr.write(`npm start failed: ${(error as Error)?.message ?? String(error)}\n`);
    process.exit(1);
  }
  process.stdout.write(describeStack(stack));
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      log('stopping…');
      void stack.stop().then(() => {
        log('stopped');
        process.exit(0);
      });
    });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
