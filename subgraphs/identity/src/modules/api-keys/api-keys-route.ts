import { z } from 'zod';
import {
  createInternalTokenVerifier,
  DomainError,
  HttpError,
  INTERNAL_TOKEN_HEADER,
  readBody,
  sendJson,
  type RouteHandler,
} from '@symbeon/kernel';
import type { ApiKeysManager } from './api-keys-manager.js';
import type { RolesManager } from '../roles/roles-manager.js';

export const API_KEY_VERIFY_PATH = '/internal/api-keys/verify';

const body = z.object({ key: z.string().max(200) });

/**
 * The gateway's question "who is this X-API-Key?". Only the gateway may ask (internal token); the answer is
 * the key's principal, or 401 with one code whatever was wrong, so probing teaches nothing.
 */
export function apiKeyVerifyRoute(secret: string, keys: ApiKeysManager, roles: RolesManager): RouteHandler {
  const verifyInternal = createInternalTokenVerifier(secret);
  return async (req, res) => {
    if (req.method !== 'POST') throw new HttpError(405, 'POST only');
    try {
      await verifyInternal(req.headers[INTERNAL_TOKEN_HEADER] as string | undefined);
    } catch {
      return sendJson(res, 401, {
        error: { code: 'UNAUTHENTICATED', message: 'Only the gateway may verify keys' },
      });
    }
    const parsed = body.safeParse(JSON.parse((await readBody(req, 4096)).toString('utf8') || '{}'));
    if (!parsed.success) throw new HttpError(400, 'Expected { key }');
    try {
      const verified = await keys.verify(parsed.data.key);
      return sendJson(res, 200, {
        principal: {
          kind: 'api-key',
          keyId: verified.keyId,
          userId: verified.userId,
          roles: await roles.rolesOf(verified.userId),
          scopes: verified.scopes,
          tier: verified.tier,
        },
      });
    } catch (error) {
      if (error instanceof DomainError)
        return sendJson(res, 401, { error: { code: error.code, message: error.message } });
      throw error;
    }
  };
}
