import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { createRedisClient } from '@symbeon/kernel/redis';

export const TIERS = ['ANONYMOUS', 'FREE', 'PRO', 'ENTERPRISE'] as const;
export type RateTier = (typeof TIERS)[number];

/** Per window: how many requests, and how much estimated query cost. */
export interface Budget {
  requests: number;
  cost: number;
}

export const DEFAULT_BUDGETS: Record<RateTier, Budget> = {
  ANONYMOUS: { requests: 120, cost: 5_000 },
  FREE: { requests: 300, cost: 20_000 },
  PRO: { requests: 1_500, cost: 200_000 },
  ENTERPRISE: { requests: 6_000, cost: 2_000_000 },
};

/** Parses `RATE_LIMITS`: `FREE:300/20000,PRO:1500/200000` (tiers not named keep their defaults). */
export function parseBudgets(spec: string | undefined): Record<RateTier, Budget> {
  const budgets = { ...DEFAULT_BUDGETS };
  for (const entry of (spec ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^(ANONYMOUS|FREE|PRO|ENTERPRISE):(\d+)\/(\d+)$/.exec(entry);
    if (!match) throw new Error(`RATE_LIMITS: "${entry}" is not TIER:requests/cost`);
    budgets[match[1] as RateTier] = { requests: Number(match[2]), cost: Number(match[3]) };
  }
  return budgets;
}

export interface Decision {
  allowed: boolean;
  /** The budget that binds most: the one with the smaller share left. */
  limit: number;
  remaining: number;
  /** Seconds until that budget's window resets. */
  resetSeconds: number;
  /** Seconds to wait before retrying, when refused. */
  retryAfterSeconds: number;
  policy: string;
}

export interface RateLimiter {
  /** Counts one request of `cost` against `key`'s budgets. */
  consume(key: string, tier: RateTier, cost: number): Promise<Decision>;
  close(): Promise<void>;
}

/**
 * Fixed windows per principal (API key, else user, else client IP) on rate-limiter-flexible: Redis in the
 * services profile so every gateway replica shares the counters, memory in the embedded profile.
 */
export function createRateLimiter(options: {
  redisUrl?: string | undefined;
  prefix: string;
  windowSeconds: number;
  budgets: Record<RateTier, Budget>;
}): RateLimiter {
  const redis = options.redisUrl
    ? createRedisClient(options.redisUrl, { name: 'gateway-rate-limit' })
    : undefined;
  const make = (name: string, points: number): RateLimiterAbstract =>
    redis
      ? new RateLimiterRedis({
          storeClient: redis,
          keyPrefix: `${options.prefix}:rl:${name}`,
          points,
          duration: options.windowSeconds,
        })
      : new RateLimiterMemory({ keyPrefix: name, points, duration: options.windowSeconds });
  const limiters = new Map(
    TIERS.map((tier) => {
      const budget = options.budgets[tier];
      return [
        tier,
        { budget, requests: make(`${tier}:req`, budget.requests), cost: make(`${tier}:cost`, budget.cost) },
      ] as const;
    }),
  );

  const settle = async (limiter: RateLimiterAbstract, key: string, points: number) => {
    try {
      return { ok: true, res: await limiter.consume(key, points) };
    } catch (error) {
      if (error instanceof RateLimiterRes) return { ok: false, res: error };
      throw error;
    }
  };

  return {
    async consume(key, tier, cost) {
      const entry = limiters.get(tier)!;
      const [requests, spent] = await Promise.all([
        settle(entry.requests, key, 1),
        settle(entry.cost, key, Math.max(1, Math.ceil(cost))),
      ]);
      const share = (res: RateLimiterRes, total: number) => Math.max(0, res.remainingPoints) / total;
      const bindingIsCost = share(spent.res, entry.budget.cost) < share(requests.res, entry.budget.requests);
      const binding = bindingIsCost ? spent.res : requests.res;
      const allowed = requests.ok && spent.ok;
      const refusedBy = [requests, spent]
        .filter((outcome) => !outcome.ok)
        .map((outcome) => outcome.res.msBeforeNext);
      return {
        allowed,
        limit: bindingIsCost ? entry.budget.cost : entry.budget.requests,
        remaining: Math.max(0, binding.remainingPoints),
        resetSeconds: Math.ceil(binding.msBeforeNext / 1000),
        retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(Math.max(...refusedBy) / 1000)),
        policy: `${entry.budget.requests};w=${options.windowSeconds}, ${entry.budget.cost};w=${options.windowSeconds};comment="query cost"`,
      };
    },
    async close() {
      await redis?.quit();
    },
  };
}
