import { HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { estimateCost } from './cost.js';
import type { RateLimiter, RateTier } from './limiter.js';

export const RATE_LIMITED = 'RATE_LIMITED';

/**
 * Counts each operation against its principal's budgets once it is parsed and validated (its cost is known
 * then), and answers over-budget callers with HTTP 429, `Retry-After`, and a RATE_LIMITED error. Every
 * response carries the IETF RateLimit headers.
 */
export function rateLimitPlugin<TContext extends BaseContext>(options: {
  limiter: RateLimiter;
  keyOf: (context: TContext) => { key: string; tier: RateTier };
}): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation(requestContext) {
          const { key, tier } = options.keyOf(requestContext.contextValue);
          const cost = estimateCost(
            requestContext.document,
            requestContext.operationName,
            requestContext.request.variables ?? {},
            requestContext.schema,
          );
          const decision = await options.limiter.consume(key, tier, cost);
          const headers = requestContext.response.http.headers;
          headers.set('ratelimit-limit', String(decision.limit));
          headers.set('ratelimit-remaining', String(decision.remaining));
          headers.set('ratelimit-reset', String(decision.resetSeconds));
          headers.set('ratelimit-policy', decision.policy);
          if (!decision.allowed) {
            throw new GraphQLError(`Rate limit exceeded: retry in ${decision.retryAfterSeconds} s`, {
              extensions: {
                code: RATE_LIMITED,
                retryAfter: decision.retryAfterSeconds,
                cost,
                http: {
                  status: 429,
                  headers: new HeaderMap([
                    ['retry-after', String(decision.retryAfterSeconds)],
                    ['ratelimit-limit', String(decision.limit)],
                    ['ratelimit-remaining', '0'],
                    ['ratelimit-reset', String(decision.resetSeconds)],
                  ]),
                },
              },
            });
          }
        },
      };
    },
  };
}
