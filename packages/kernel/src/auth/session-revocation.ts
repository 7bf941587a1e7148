import type { Cache } from '../cache/cache.js';

/**
 * Revoked sessions, on the Cache port (namespace `auth`): identity writes the key when a session ends and
 * keeps it at least as long as the session's access tokens live; the gateway reads it on every request.
 * Both sides use these two functions, so the key's format has one home.
 */
export function revokedSessionKey(sessionId: string): string {
  return `session:revoked:${sessionId}`;
}

export async function isSessionRevoked(cache: Cache, sessionId: string): Promise<boolean> {
  return (await cache.get(revokedSessionKey(sessionId))) !== undefined;
}
