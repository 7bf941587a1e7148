import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devKeys, errorCodes, signIn, startTestStack, type SignedIn, type TestStack } from '../kit/index.js';

// Small budgets so a burst reaches them: anonymous callers 4 requests per 3 s window, users 6.
let stack: TestStack;
let ada: SignedIn;
let linus: SignedIn;

beforeAll(async () => {
  stack = await startTestStack({ RATE_LIMIT_WINDOW: '3', RATE_LIMITS: 'ANONYMOUS:4/1000,FREE:6/400' });
  [ada, linus] = await Promise.all([
    signIn(stack.graphql, devKeys.ada),
    signIn(stack.graphql, devKeys.linus),
  ]);
});

afterAll(async () => {
  await stack?.stop();
});

const cheap = '{ user(handle: "ada") { displayName } }';

describe('rate limits per principal', () => {
  it('hold under a burst with RateLimit headers and a 429 RATE_LIMITED, and a second user is unaffected', async () => {
    const burst = await Promise.all(
      Array.from({ length: 9 }, () => stack.graphql(cheap, undefined, ada.headers)),
    );
    const ok = burst.filter((response) => response.status === 200);
    const limited = burst.filter((response) => response.status === 429);
    expect(ok).toHaveLength(6);
    expect(limited).toHaveLength(3);
    expect(ok[0]!.headers.get('ratelimit-limit')).toBe('6');
    expect(Number(ok[0]!.headers.get('ratelimit-remaining'))).toBeLessThan(6);
    const refusal = limited[0]!;
    expect(errorCodes(refusal)).toEqual(['RATE_LIMITED']);
    const retryAfter = refusal.body.errors![0]!.extensions!.retryAfter as number;
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3);
    expect(refusal.headers.get('retry-after')).toBe(String(retryAfter));

    // Another user's budget is their own.
    const other = await stack.graphql(cheap, undefined, linus.headers);
    expect(other.status).toBe(200);
    expect(other.body.data!.user.displayName).toBe('Ada Lovelace');
  });

  it('weigh queries by their estimated cost', async () => {
    // 100 courses × their fields cost far more than a user's 400 budget allows in one window.
    const heavy = await stack.graphql(
      '{ courses(first: 100) { edges { node { title summary slug tags } } } }',
      undefined,
      linus.headers,
    );
    expect(heavy.status).toBe(429);
    expect(heavy.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
  });

  it('reset when the window ends', async () => {
    await new Promise((resolve) => setTimeout(resolve, 3_200));
    const again = await stack.graphql(cheap, undefined, ada.headers);
    expect(again.status).toBe(200);
  });

  it('count anonymous callers by address', async () => {
    const burst = await Promise.all(Array.from({ length: 6 }, () => stack.graphql(cheap)));
    expect(burst.filter((response) => response.status === 429).length).toBeGreaterThanOrEqual(2);
  });
});
