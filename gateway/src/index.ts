import { createCache, createLogger, EnvError } from '@symbeon/kernel';
import { parseGatewayEnv } from './env.js';
import { startGateway } from './gateway.js';

// Wiring only: env -> cache -> gateway -> shutdown.
let env;
try {
  env = parseGatewayEnv();
} catch (error) {
  if (!(error instanceof EnvError)) throw error;
  process.stderr.write(`gateway: ${error.message}\nSee .env.example for every variable.\n`);
  process.exit(1);
}
const logger = createLogger('gateway', { level: env.LOG_LEVEL });
if (!env.REDIS_URL) {
  // In its own process without Redis, the gateway cannot see the sessions identity revokes.
  logger.warn('REDIS_URL is unset: revoked sessions are only seen when identity runs in this process');
}
// Namespace `auth`: where identity writes revoked sessions.
const cache = await createCache(env, 'auth');
const gateway = await startGateway({ env, logger, cache }).catch(async (error: unknown) => {
  await cache.close();
  if (!(error instanceof EnvError)) throw error;
  process.stderr.write(`gateway: ${error.message}\nSee .env.example for every variable.\n`);
  process.exit(1);
});
logger.info({ url: `${gateway.url}/graphql`, supergraph: env.SUPERGRAPH_PATH }, 'gateway ready');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(
    signal,
    () =>
      void gateway
        .stop()
        .then(() => cache.close())
        .then(() => process.exit(0)),
  );
}
