import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import { childTrace, formatTraceparent, parseTraceparent, type TraceContext } from '../tracing.js';
import { runInRequestScope } from '../logger.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Reads a request body up to `limitBytes`; larger bodies are refused with 413 before they are buffered. */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limitBytes) throw new HttpError(413, `Request body exceeds ${limitBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw new HttpError(413, `Request body exceeds ${limitBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(payload);
}

/** The request id and trace of one inbound request; reused for logs and forwarded downstream. */
export interface RequestIdentity {
  requestId: string;
  trace: TraceContext;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Takes the caller's request id when it is well formed (it only correlates logs; it is never identity),
 * and continues the caller's W3C trace with a fresh span.
 */
export function requestIdentity(req: IncomingMessage): RequestIdentity {
  const given = req.headers['x-request-id'];
  const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  const parent = parseTraceparent(req.headers.traceparent as string | undefined);
  return { requestId, trace: childTrace(parent) };
}

export function withRequestScope<T>(identity: RequestIdentity, fn: () => T): T {
  return runInRequestScope(
    { requestId: identity.requestId, traceId: identity.trace.traceId, spanId: identity.trace.spanId },
    fn,
  );
}

export interface GraphqlHandlerOptions<TContext extends BaseContext> {
  context: (req: IncomingMessage, identity: RequestIdentity) => Promise<TContext>;
  /** Largest accepted body (default 1 MiB). */
  bodyLimitBytes?: number;
}

/**
 * A node:http integration for Apollo Server 5 (the role @as-integrations/* packages play), without a web
 * framework in the hot path.
 */
export function graphqlHandler<TContext extends BaseContext>(
  server: ApolloServer<TContext>,
  options: GraphqlHandlerOptions<TContext>,
) {
  const limit = options.bodyLimitBytes ?? 1024 * 1024;
  return async (req: IncomingMessage, res: ServerResponse, identity: RequestIdentity): Promise<void> => {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    let body: unknown = undefined;
    if (req.method === 'POST') {
      const raw = await readBody(req, limit);
      const type = headers.get('content-type') ?? '';
      if (type.includes('application/json') || type.includes('application/graphql-response+json')) {
        try {
          body = raw.length ? JSON.parse(raw.toString('utf8')) : undefined;
        } catch {
          throw new HttpError(400, 'The request body is not valid JSON');
        }
      } else {
        body = raw.toString('utf8');
      }
    }
    const url = req.url ?? '/';
    const queryIndex = url.indexOf('?');
    const response = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: req.method ?? 'GET',
        headers,
        search: queryIndex >= 0 ? url.slice(queryIndex) : '',
        body,
      },
      context: () => options.context(req, identity),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.setHeader('x-request-id', identity.requestId);
    res.setHeader('traceparent', formatTraceparent(identity.trace));
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}
