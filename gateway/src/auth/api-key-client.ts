import { createHash } from 'node:crypto';
import {
  ANONYMOUS,
  INTERNAL_TOKEN_HEADER,
  principalSchema,
  signInternalToken,
  type ApiKeyPrincipal,
} from '@symbeon/kernel';

export const API_KEY_VERIFY_PATH = '/internal/api-keys/verify';

export class ApiKeyRefusedError extends Error {}

/**
 * Asks identity who an X-API-Key belongs to, remembering answers (good and bad) for a few seconds so a burst
 * of requests with one key costs one round trip. Keys are remembered by hash, never in clear.
 */
export function createApiKeyClient(options: {
  identityOrigin: () => URL | undefined;
  internalAuthSecret: string;
  ttlMs?: number;
  timeoutMs?: number;
}) {
  const ttlMs = options.ttlMs ?? 10_000;
  const remembered = new Map<string, { expires: number; principal?: ApiKeyPrincipal }>();

  return async function verifyApiKey(key: string): Promise<ApiKeyPrincipal> {
    const digest = createHash('sha256').update(key).digest('base64url');
    const hit = remembered.get(digest);
    if (hit && hit.expires > Date.now()) {
      if (!hit.principal) throw new ApiKeyRefusedError('invalid API key');
      return hit.principal;
    }
    const origin = options.identityOrigin();
    if (!origin) throw new Error('identity is not routed: API keys cannot be checked');
    const response = await fetch(new URL(API_KEY_VERIFY_PATH, origin), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [INTERNAL_TOKEN_HEADER]: await signInternalToken(
          options.internalAuthSecret,
          ANONYMOUS,
          'api-key-check',
        ),
      },
      body: JSON.stringify({ key }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 3_000),
    });
    if (remembered.size > 10_000) remembered.clear();
    if (response.status === 401) {
      remembered.set(digest, { expires: Date.now() + ttlMs });
      throw new ApiKeyRefusedError('invalid API key');
    }
    if (!response.ok) throw new Error(`identity answered ${response.status} to an API key check`);
    const parsed = principalSchema.safeParse(((await response.json()) as { principal?: unknown }).principal);
    if (!parsed.success || parsed.data.kind !== 'api-key')
      throw new Error('identity answered an API key check oddly');
    remembered.set(digest, { expires: Date.now() + ttlMs, principal: parsed.data });
    return parsed.data;
  };
}
