import { randomUUID } from 'node:crypto';
import { buildSchema, parse } from 'graphql';
import { redisForTests } from '@symbeon/kernel/testing';
import { describe, expect, it } from 'vitest';
import { estimateCost } from './cost.js';
import { createRateLimiter, DEFAULT_BUDGETS, parseBudgets, type Budget, type RateTier } from './limiter.js';

const schema = buildSchema(`
  type Query { user(handle: String): User courses(first: Int = 20, after: String): CourseConnection! tags: [String!]! }
  type User { displayName: String bio: String handle: String friends: [User!]! }
  type CourseConnection { edges: [CourseEdge!]! }
  type CourseEdge { cursor: String! node: Course! }
  type Course { title: String! }
`);

describe('query cost estimate', () => {
  it('uses the schema: page-size defaults and plain lists', () => {
    expect(estimateCost(parse('{ courses { edges { cursor } } }'), null, {}, schema)).toBe(1 + 20 * (1 + 1));
    expect(estimateCost(parse('{ user { friends { handle } } }'), null, {}, schema)).toBe(1 + (1 + 10 * 1));
  });

  it('counts fields and multiplies paginated selections by their page size', () => {
    expect(estimateCost(parse('{ user(handle: "a") { displayName bio } }'), null)).toBe(3);
    expect(estimateCost(parse('{ courses(first: 50) { edges { node { title } } } }'), null)).toBe(1 + 50 * 3);
    expect(
      estimateCost(parse('query($n: Int) { courses(first: $n) { edges { cursor } } }'), null, { n: 5 }),
    ).toBe(1 + 5 * 2);
    // Absurd sizes are capped at 100.
    expect(estimateCost(parse('{ courses(first: 100000) { edges { cursor } } }'), null)).toBe(1 + 100 * 2);
    expect(
      estimateCost(parse('{ a: user(handle: "a") { ...F } } fragment F on User { bio handle }'), null),
    ).toBe(3);
  });
});

describe('budgets', () => {
  it('parses overrides and refuses nonsense', () => {
    expect(parseBudgets('FREE:10/100').FREE).toEqual({ requests: 10, cost: 100 });
    expect(parseBudgets('').PRO).toEqual(DEFAULT_BUDGETS.PRO);
    expect(() => parseBudgets('GOLD:1/1')).toThrow(/RATE_LIMITS/);
  });
});

const small: Record<RateTier, Budget> = {
  ANONYMOUS: { requests: 3, cost: 1000 },
  FREE: { requests: 5, cost: 40 },
  PRO: { requests: 50, cost: 1000 },
  ENTERPRISE: { requests: 500, cost: 10_000 },
};

const redisUrl = await redisForTests('gateway rate limits (Redis)');

for (const [name, redis] of [
  ['memory', undefined],
  ['redis', redisUrl],
] as const) {
  describe.skipIf(name === 'redis' && !redis)(`rate limiter (${name})`, () => {
    const make = (windowSeconds = 60) =>
      createRateLimiter({ redisUrl: redis, prefix: `test:${randomUUID()}`, windowSeconds, budgets: small });

    it('holds per key under a burst, and a second key is unaffected', async () => {
      const limiter = make();
      const burst = await Promise.all(
        Array.from({ length: 6 }, () => limiter.consume('ip:1', 'ANONYMOUS', 1)),
      );
      expect(burst.filter((decision) => decision.allowed)).toHaveLength(3);
      const refused = burst.find((decision) => !decision.allowed)!;
      expect(refused.retryAfterSeconds).toBeGreaterThan(0);
      expect(refused.remaining).toBe(0);
      const other = await limiter.consume('ip:2', 'ANONYMOUS', 1);
      expect(other).toMatchObject({ allowed: true, limit: 3, remaining: 2 });
      await limiter.close();
    });

    it('weighs requests by cost', async () => {
      const limiter = make();
      expect((await limiter.consume('user:1', 'FREE', 30)).allowed).toBe(true);
      const second = await limiter.consume('user:1', 'FREE', 30);
      expect(second.allowed).toBe(false);
      expect(second.limit).toBe(40);
      await limiter.close();
    });

    it('resets when the window ends', async () => {
      const limiter = make(1);
      for (let i = 0; i < 3; i += 1) await limiter.consume('ip:reset', 'ANONYMOUS', 1);
      expect((await limiter.consume('ip:reset', 'ANONYMOUS', 1)).allowed).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      expect((await limiter.consume('ip:reset', 'ANONYMOUS', 1)).allowed).toBe(true);
      await limiter.close();
    });
  });
}
