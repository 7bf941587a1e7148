import { createEventTransport, createLogger, loadEnvOrExit } from '@symbeon/kernel';
import { identityEnvShape } from './env.js';
import { startIdentity } from './service.js';

// Wiring only: env -> clients -> service -> shutdown.
const env = loadEnvOrExit('identity', identityEnvShape);
const logger = createLogger('identity', { level: env.LOG_LEVEL });
const transport = await createEventTransport(env, 'identity');
const service = await startIdentity({ env, logger, transport });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void service
      .stop()
      .then(() => transport.close())
      .then(() => process.exit(0));
  });
}
