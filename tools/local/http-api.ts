import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { parse } from 'yaml';
import { createLambdaContext } from './lambda-context.js';

/**
 * A local stand-in for API Gateway HTTP API (payload format 2.0): reads the `httpApi` routes
 * from serverless.yml, turns each HTTP request into the same event API Gateway would send, calls
 * the real handler in-process and writes its answer back. In-process (rather than
 * serverless-offline's worker threads) so it starts in well under a second and the smoke test
 * can run it inside `npm test`.
 */

/** One function of serverless.yml, as the local stack needs it. */
export interface ServerlessFunction {
  /** The key under `functions:` (e.g. `typeformWebhook`). */
  readonly name: string;
  /** `handlers/typeform-webhook.ts` (relative to the project). */
  readonly modulePath: string;
  readonly exportName: string;
  readonly timeoutSeconds: number;
  readonly memorySize?: number;
  readonly httpRoutes: ReadonlyArray<{ method: string; path: string }>;
  readonly sqsBatchSize?: number;
}

/** Resolves `${self:a.b}` references (the only kind the local stack needs) inside one string. */
function resolveSelfReferences(value: unknown, doc: Record<string, unknown>): unknown {
  if (typeof value !== 'string') return value;
  const whole = /^\$\{self:([\w.]+)\}$/.exec(value);
  if (!whole) return value;
  let node: unknown = doc;
  for (const key of (whole[1] ?? '').split('.')) node = (node as Record<string, unknown> | undefined)?.[key];
  return node;
}

/** Reads the functions, their HTTP routes, timeouts and SQS batch sizes from serverless.yml. */
export function readServerlessFunctions(serverlessYml: string): ServerlessFunction[] {
  const doc = parse(serverlessYml) as Record<string, unknown>;
  const functions = (doc.functions ?? {}) as Record<string, Record<string, unknown>>;
  return Object.entries(functions).map(([name, fn]) => {
    const handler = String(fn.handler ?? '');
    const dot = handler.lastIndexOf('.');
    if (dot < 0) throw new Error(`serverless.yml: function ${name} has no handler`);
    const events = (fn.events ?? []) as Array<Record<string, Record<string, unknown> | undefined>>;
    const httpRoutes = events.flatMap((event) =>
      event.httpApi
        ? [{ method: String(event.httpApi.method).toUpperCase(), path: String(event.httpApi.path) }]
        : [],
    );
    const sqs = events.find((event) => event.sqs)?.sqs;
    const timeoutSeconds = Number(resolveSelfReferences(fn.timeout, doc) ?? 6);
    if (!Number.isFinite(timeoutSeconds))
      throw new Error(`serverless.yml: function ${name} has no numeric timeout`);
    return {
      name,
      modulePath: `${handler.slice(0, dot)}.ts`,
      exportName: handler.slice(dot + 1),
      timeoutSeconds,
      ...(typeof fn.memorySize === 'number' ? { memorySize: fn.memorySize } : {}),
      httpRoutes,
      ...(sqs ? { sqsBatchSize: Number(sqs.batchSize ?? 10) } : {}),
    };
  });
}

/** Reads serverless.yml from disk. */
export function loadServerlessFunctions(path: string): ServerlessFunction[] {
  return readServerlessFunctions(readFileSync(path, 'utf8'));
}

// API Gateway passes these bodies as text; anything else arrives base64-encoded.
const TEXT_CONTENT =
  /^(text\/|application\/(json|xml|x-www-form-urlencoded|[\w.+-]+\+json|[\w.+-]+\+xml|javascript))/i;

/** Builds the payload-2.0 event API Gateway HTTP API sends for a request. */
export function toHttpApiEvent(request: {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  routeKey: string;
  sourceIp?: string;
  now?: number;
}): APIGatewayProxyEventV2 {
  const url = new URL(request.url, 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || name === 'cookie') continue;
    // API Gateway joins repeated headers with commas and lower-cases names.
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const cookies = request.headers.cookie?.split(';').map((c) => c.trim());
  const queryStringParameters: Record<string, string> = {};
  for (const [key, value] of url.searchParams) {
    queryStringParameters[key] =
      key in queryStringParameters ? `${queryStringParameters[key]},${value}` : value;
  }
  const contentType = headers['content-type'] ?? '';
  const isText = request.body.length === 0 || TEXT_CONTENT.test(contentType);
  const now = request.now ?? Date.now();
  const requestId = randomUUID();
  return {
    version: '2.0',
    routeKey: request.routeKey,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    ...(cookies ? { cookies } : {}),
    headers,
    ...(url.search ? { queryStringParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0] ?? 'localhost',
      http: {
        method: request.method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: request.sourceIp ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: request.routeKey,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    ...(request.body.length > 0
      ? { body: isText ? request.body.toString('utf8') : request.body.toString('base64') }
      : {}),
    isBase64Encoded: request.body.length > 0 && !isText,
  };
}

/** An HTTP handler as Lambda calls it. */
export type HttpApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<unknown>;

/** What API Gateway makes of a handler's answer (payload 2.0 rules, including the "bare value" form). */
export function fromHandlerResult(result: unknown): {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer;
} {
  const isStructured =
    typeof result === 'object' && result !== null && 'statusCode' in (result as Record<string, unknown>);
  if (!isStructured) {
    // API Gateway infers 200 JSON from anything without a statusCode.
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) };
  }
  const structured = result as {
    statusCode: number;
    headers?: Record<string, string | number | boolean>;
    body?: string;
    isBase64Encoded?: boolean;
  };
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(structured.headers ?? {}))
    headers[name.toLowerCase()] = String(value);
  const raw = structured.body ?? '';
  return {
    statusCode: structured.statusCode,
    headers,
    body: structured.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8'),
  };
}

export interface HttpApiRoute {
  readonly method: string;
  readonly path: string;
  readonly functionName: string;
  readonly timeoutMs: number;
  readonly handler: HttpApiHandler;
}

/** A running local HTTP API. */
export interface LocalHttpApi {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

function readBody(request: IncomingMessage, limitBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limitBytes) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > limitBytes ? undefined : Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const payload = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  response.writeHead(status, {
    'content-type': 'application/json',
    ...headers,
    'content-length': payload.length,
  });
  response.end(payload);
}

/** Serves the routes until `stop()`; each request becomes one handler invocation. */
export async function startHttpApi(options: {
  routes: readonly HttpApiRoute[];
  port?: number;
  host?: string;
  onInvoke?: (info: { functionName: string; statusCode: number; durationMs: number }) => void;
  onError?: (functionName: string, error: unknown) => void;
}): Promise<LocalHttpApi> {
  const byKey = new Map(options.routes.map((route) => [`${route.method} ${route.path}`, route]));
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const route = byKey.get(`${request.method} ${path}`);
    if (!route) return send(response, 404, { message: 'Not Found' });
    // API Gateway's own payload limit (10 MB); the handlers enforce the 1 MiB contract themselves.
    const body = await readBody(request, 10 * 1024 * 1024);
    if (!body) return send(response, 413, { message: 'Request Entity Too Large' });
    const event = toHttpApiEvent({
      method: request.method ?? 'POST',
      url: request.url ?? '/',
      headers: request.headers,
      body,
      routeKey: `${route.method} ${route.path}`,
      sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
    });
    const started = Date.now();
    const context = createLambdaContext({ functionName: route.functionName, timeoutMs: route.timeoutMs });
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), route.timeoutMs);
      });
      const result = await Promise.race([route.handler(event, context), timeout]);
      if (result === 'timeout') {
        // API Gateway answers 503 when the integration times out.
        options.onInvoke?.({
          functionName: route.functionName,
          statusCode: 503,
          durationMs: Date.now() - started,
        });
        return send(response, 503, { message: 'Service Unavailable' });
      }
      const answer = fromHandlerResult(result);
      options.onInvoke?.({
        functionName: route.functionName,
        statusCode: answer.statusCode,
        durationMs: Date.now() - started,
      });
      return send(response, answer.statusCode, answer.body, answer.headers);
    } catch (error) {
      // A thrown handler error is API Gateway's 500 "Internal Server Error".
      options.onError?.(route.functionName, error);
      return send(response, 500, { message: 'Internal Server Error' });
    } finally {
      clearTimeout(timer);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
