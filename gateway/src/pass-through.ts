import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { INTERNAL_TOKEN_HEADER, sendJson } from '@symbeon/kernel';

/** Request headers a public route may pass to its subgraph; everything else (credentials included) stays. */
const REQUEST_HEADERS = [
  'accept',
  'accept-language',
  'content-type',
  'content-length',
  'cookie',
  'user-agent',
  'if-none-match',
  'if-modified-since',
  'range',
  'traceparent',
  'x-request-id',
];
/** Response headers passed back to the client. */
const RESPONSE_HEADERS = [
  'content-type',
  'content-length',
  'content-disposition',
  'content-security-policy',
  'cache-control',
  'pragma',
  'etag',
  'last-modified',
  'location',
  'set-cookie',
  'referrer-policy',
  'accept-ranges',
  'content-range',
  'allow',
];

export interface PassThroughOptions {
  /** The subgraph's origin; undefined when the supergraph routes no such subgraph. */
  upstream: () => URL | undefined;
  /** Request headers the route also passes (e.g. `stripe-signature`), lower-case. */
  extraRequestHeaders?: string[];
  /** Methods the route accepts (default GET, HEAD). */
  methods?: string[];
  /** Largest request body (default 64 KiB); longer ones get 413 before reaching the subgraph. */
  maxBodyBytes?: number;
  timeoutMs?: number;
  /** Called before forwarding; returns false after answering itself (e.g. 429). */
  admit?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

/**
 * A public HTTP route of a subgraph served on the gateway's origin (OIDC sign-in, later IPFS files and
 * webhooks): path and query pass unchanged, bodies stream, redirects are returned (never followed). Only
 * listed headers cross in either direction, so a client can neither reach the subgraph with credentials of
 * its own choosing nor forge the gateway's internal token; the client's address goes in X-Forwarded-For.
 */
export function passThrough(options: PassThroughOptions) {
  const methods = new Set(options.methods ?? ['GET', 'HEAD']);
  const allowed = new Set([...REQUEST_HEADERS, ...(options.extraRequestHeaders ?? [])]);
  allowed.delete(INTERNAL_TOKEN_HEADER);
  const maxBody = options.maxBodyBytes ?? 64 * 1024;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!methods.has(req.method ?? '')) {
      return sendJson(res, 405, { error: 'Method not allowed' }, { allow: [...methods].join(', ') });
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBody)
      return sendJson(res, 413, { error: `Request bodies are limited to ${maxBody} bytes` });
    if (options.admit && !(await options.admit(req, res))) return;
    const origin = options.upstream();
    if (!origin) return sendJson(res, 503, { error: 'This route is not served by any subgraph' });
    const target = new URL(req.url ?? '/', origin);
    const headers: Record<string, string | string[]> = {};
    for (const name of allowed) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = value;
    }
    const clientIp = req.socket.remoteAddress ?? 'unknown';
    headers['x-forwarded-for'] = clientIp;
    headers['x-forwarded-proto'] = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;

    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    await new Promise<void>((done) => {
      let received = 0;
      let settled = false;
      const resolve = () => {
        settled = true;
        done();
      };
      const upstreamRequest = send(
        target,
        { method: req.method, headers, timeout: options.timeoutMs ?? 15_000 },
        (upstreamResponse) => {
          const out: Record<string, string | string[]> = {};
          for (const name of RESPONSE_HEADERS) {
            const value = upstreamResponse.headers[name];
            if (value !== undefined) out[name] = value;
          }
          res.writeHead(upstreamResponse.statusCode ?? 502, out);
          pipeline(upstreamResponse, res).then(resolve, () => resolve());
        },
      );
      const unavailable = () => {
        if (settled) return;
        if (!res.headersSent) sendJson(res, 502, { error: 'The subgraph serving this route is unavailable' });
        else res.destroy();
        resolve();
      };
      upstreamRequest.on('timeout', () => upstreamRequest.destroy(new Error('timeout')));
      upstreamRequest.on('error', unavailable);
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > maxBody && !settled) {
          upstreamRequest.destroy();
          req.unpipe(upstreamRequest);
          if (!res.headersSent)
            sendJson(res, 413, { error: `Request bodies are limited to ${maxBody} bytes` });
          resolve();
        }
      });
      req.pipe(upstreamRequest);
    });
  };
}
