import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '@symbeon/kernel';

export const JWKS_PATH = '/.well-known/jwks.json';

/**
 * `GET /.well-known/jwks.json` on the gateway: identity's JWKS, passed through as is, so clients verify
 * tokens against the public origin. No logic of its own: status, body, content type and cache headers are
 * identity's. Subgraphs are not public; this one document of identity's is.
 */
export function jwksProxy(options: { upstream: () => URL | undefined; timeoutMs?: number }) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'Method not allowed' }, { allow: 'GET, HEAD' });
    }
    const upstream = options.upstream();
    if (!upstream) return sendJson(res, 503, { error: 'No identity subgraph is routed' });
    let response: Response;
    let body: string;
    try {
      response = await fetch(upstream, {
        redirect: 'manual',
        headers: { accept: 'application/json, application/jwk-set+json' },
        signal: AbortSignal.timeout(options.timeoutMs ?? 3_000),
      });
      body = await response.text();
    } catch {
      return sendJson(res, 502, { error: 'The JWKS is unavailable' });
    }
    const headers: Record<string, string> = {
      // Public keys: any origin may read them.
      'access-control-allow-origin': '*',
      'content-type': response.headers.get('content-type') ?? 'application/json',
    };
    const cacheControl = response.headers.get('cache-control');
    if (cacheControl) headers['cache-control'] = cacheControl;
    res.writeHead(response.status, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
