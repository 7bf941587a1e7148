import { createCache, createEventTransport, createLogger, EnvError, loadEnvOrExit } from '@symbeon/kernel';
import { identityEnvShape } from './env.js';
import { startIdentity } from './service.js';

// Wiring only: env -> clients -> service -> shutdown.
const env = loadEnvOrExit('identity', identityEnvShape);
const logger = createLogger('identity', { level: env.LOG_LEVEL });
const transport = await createEventTransport(env, 'identity');
const cache = await createCache(env, 'auth');
const service = await startIdentity({ env, logger, transport, cache }).catch((error: unknown) => {
  // Settings checked at start (SECRETS_KEY in production) are reported like the others.
  if (!(error instanceof EnvError)) throw error;
  process.stderr.write(`identity: ${error.message}\nSee .env.example for every variable.\n`);
  process.exit(1);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void service
      .stop()
      .then(() => cache.close())
      .then(() => transport.close())
      .then(() => process.exit(0));
  });
}
