import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { HttpError, requestIdentity, sendJson, withRequestScope, type RequestIdentity } from './http.js';

export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  identity: RequestIdentity,
) => Promise<void>;

export interface HttpServiceOptions {
  name: string;
  port: number;
  /** Subgraphs listen on loopback unless configured otherwise. */
  host: string;
  logger: Logger;
  metrics: Registry;
  /** Throws (with a reason) when the service cannot serve: database down, upstream unreachable... */
  ready: () => Promise<void>;
  /** Exact-path routes, e.g. `/graphql`. Matched on the path without the query string. */
  routes: Record<string, RouteHandler>;
  /** Prefix routes, e.g. `/ipfs/`; tried after exact routes. */
  prefixRoutes?: Record<string, RouteHandler>;
  /** WebSocket upgrades (graphql-ws). */
  onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Runs after the listener stops taking connections, before open ones are cut. */
  onStop?: () => Promise<void>;
  /** Longest wait for in-flight requests on stop (default 10 s). */
  drainTimeoutMs?: number;
}

export interface RunningService {
  name: string;
  port: number;
  url: string;
  server: Server;
  stop(): Promise<void>;
}

export async function startHttpService(options: HttpServiceOptions): Promise<RunningService> {
  const { logger } = options;
  let stopping = false;

  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    const identity = requestIdentity(req);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    void withRequestScope(identity, async () => {
      try {
        if (path === '/health') return sendJson(res, 200, { status: 'ok', service: options.name });
        if (path === '/ready') {
          if (stopping) return sendJson(res, 503, { status: 'stopping', service: options.name });
          try {
            await options.ready();
            return sendJson(res, 200, { status: 'ready', service: options.name });
          } catch (error) {
            return sendJson(res, 503, {
              status: 'unavailable',
              service: options.name,
              reason: error instanceof Error ? error.message : String(error),
            });
          }
        }
        if (path === '/metrics') {
          const body = await options.metrics.metrics();
          res.writeHead(200, { 'content-type': options.metrics.contentType });
          return void res.end(body);
        }
        const route =
          options.routes[path] ??
          Object.entries(options.prefixRoutes ?? {}).find(([prefix]) => path.startsWith(prefix))?.[1];
        if (!route) return sendJson(res, 404, { error: `No route for ${path}` });
        await route(req, res, identity);
      } catch (error) {
        if (error instanceof HttpError) {
          if (!res.headersSent) sendJson(res, error.status, { errors: [{ message: error.message }] });
          else res.end();
          return;
        }
        logger.error({ err: error, path }, 'request failed');
        if (!res.headersSent) sendJson(res, 500, { errors: [{ message: 'Internal server error' }] });
        else res.end();
      }
    });
  });
  if (options.onUpgrade) server.on('upgrade', options.onUpgrade);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info({ url }, `${options.name} listening`);

  let stopped: Promise<void> | undefined;
  return {
    name: options.name,
    port,
    url,
    server,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive connections turn idle as their in-flight requests finish: close them as they do.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        server.closeIdleConnections();
        await options.onStop?.();
        const timeout = setTimeout(() => server.closeAllConnections(), options.drainTimeoutMs ?? 10_000);
        timeout.unref();
        await closed;
        clearTimeout(timeout);
        clearInterval(sweep);
        logger.info(`${options.name} stopped`);
      })();
      return stopped;
    },
  };
}
