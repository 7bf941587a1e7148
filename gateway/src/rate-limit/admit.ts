import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '@symbeon/kernel';
import type { RateLimiter } from './limiter.js';

/**
 * Counts each request against the caller's address as an anonymous request, like the gateway's other
 * public routes (`/auth/`); over budget it answers 429 with Retry-After.
 */
export function admitByClientAddress(limiter: RateLimiter) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const decision = await limiter.consume(`ip:${req.socket.remoteAddress ?? 'unknown'}`, 'ANONYMOUS', 1);
    if (decision.allowed) return true;
    sendJson(
      res,
      429,
      {
        error: { code: 'RATE_LIMITED', message: 'Too many requests', retryAfter: decision.retryAfterSeconds },
      },
      { 'retry-after': String(decision.retryAfterSeconds) },
    );
    return false;
  };
}
