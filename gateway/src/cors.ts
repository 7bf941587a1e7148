import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * CORS from an allow-list. Origins not on the list get no CORS headers, so browsers refuse to hand them the
 * response; requests without an Origin (servers, curl) are unaffected. Answers preflights itself.
 * @returns true when the request was a preflight and has been answered.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, allowed: ReadonlySet<string>): boolean {
  const origin = req.headers.origin;
  res.setHeader('vary', 'Origin');
  const permitted = typeof origin === 'string' && (allowed.has(origin) || allowed.has('*'));
  if (permitted) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader(
      'access-control-expose-headers',
      'x-request-id, traceparent, ratelimit-limit, ratelimit-remaining, ratelimit-reset, retry-after',
    );
  }
  if (req.method !== 'OPTIONS') return false;
  if (permitted) {
    res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
    res.setHeader(
      'access-control-allow-headers',
      req.headers['access-control-request-headers'] ??
        'content-type, authorization, x-api-key, apollo-require-preflight',
    );
    res.setHeader('access-control-max-age', '600');
  }
  res.statusCode = permitted ? 204 : 403;
  res.end();
  return true;
}
