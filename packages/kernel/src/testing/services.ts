import net from 'node:net';

/**
 * Which real services the test run can use. PostgreSQL and Redis are used when reachable (always in CI,
 * where `.ci/run` starts them and exports DATABASE_URL / REDIS_URL); without them the suites that need
 * them say so loudly and fall back (PGlite for the database) or are reported as skipped (Redis adapters).
 * With CI=true or REQUIRE_SERVICES=1 a missing service is an error, never a skip.
 */
export const servicesRequired = process.env.CI === 'true' || process.env.REQUIRE_SERVICES === '1';

export function redisUrlForTests(): string | undefined {
  return process.env.REDIS_URL || undefined;
}

export function databaseUrlForTests(): string | undefined {
  return process.env.DATABASE_URL || undefined;
}

export async function canConnect(url: string, defaultPort: number, timeoutMs = 1_000): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname || '127.0.0.1', port: Number(port || defaultPort) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Resolves the Redis URL a suite should use, or undefined (with a printed reason) when Redis is not
 * available outside CI. In CI a missing Redis throws so the run fails.
 */
export async function redisForTests(suite: string): Promise<string | undefined> {
  const url = redisUrlForTests();
  if (url && (await canConnect(url, 6379))) return url;
  const reason = url ? `REDIS_URL=${url} is unreachable` : 'REDIS_URL is not set';
  if (servicesRequired) throw new Error(`${suite}: ${reason}, and this run requires real services`);
  console.warn(`\n[${suite}] SKIPPED against Redis: ${reason}. CI runs it against a real Redis.\n`);
  return undefined;
}
