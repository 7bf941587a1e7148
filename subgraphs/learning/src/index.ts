import { createEventTransport, createLogger, loadEnvOrExit } from '@symbeon/kernel';
import { learningEnvShape } from './env.js';
import { startLearning } from './service.js';

// Wiring only: env -> clients -> service -> shutdown.
const env = loadEnvOrExit('learning', learningEnvShape);
const logger = createLogger('learning', { level: env.LOG_LEVEL });
const transport = await createEventTransport(env, 'learning');
const service = await startLearning({ env, logger, transport });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void service
      .stop()
      .then(() => transport.close())
      .then(() => process.exit(0));
  });
}
