import { canConnect, servicesRequired } from './services.js';

/** Fails the whole run early when CI requires services that are not reachable. */
export default async function globalSetup(): Promise<void> {
  const checks: Array<[string, string | undefined, number]> = [
    ['DATABASE_URL', process.env.DATABASE_URL, 5432],
    ['REDIS_URL', process.env.REDIS_URL, 6379],
  ];
  const lines: string[] = [];
  for (const [name, url, port] of checks) {
    if (!url) {
      if (servicesRequired) throw new Error(`${name} must be set when CI=true or REQUIRE_SERVICES=1`);
      lines.push(`${name}: not set (embedded fallback)`);
      continue;
    }
    const ok = await canConnect(url, port);
    if (!ok && servicesRequired) throw new Error(`${name}=${url} is unreachable`);
    lines.push(`${name}: ${ok ? 'reachable' : 'UNREACHABLE (embedded fallback)'}`);
  }
  console.log(`[test services] ${lines.join('; ')}`);
}
