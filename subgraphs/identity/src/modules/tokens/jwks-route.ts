import { sendJson, type RouteHandler } from '@symbeon/kernel';
import type { TokenManager } from './tokens-manager.js';

export const JWKS_PATH = '/.well-known/jwks.json';

/**
 * GET /.well-known/jwks.json: the public keys access tokens are verified with. Verifiers may cache it for
 * five minutes; a new key is published KEY_PUBLISH_LEAD (default ten minutes) before it signs, so a cached
 * copy always holds it in time.
 */
export function jwksRoute(tokens: TokenManager): RouteHandler {
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return sendJson(res, 405, { error: 'Use GET' }, { allow: 'GET, HEAD' });
    }
    sendJson(res, 200, await tokens.jwks(), { 'cache-control': 'public, max-age=300' });
  };
}
