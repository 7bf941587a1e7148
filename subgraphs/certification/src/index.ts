import { createEventTransport, createLogger, loadEnvOrExit } from '@symbeon/kernel';
import { certificationEnvShape } from './env.js';
import { startCertification } from './service.js';

// Wiring only: env -> clients -> service -> shutdown.
const env = loadEnvOrExit('certification', certificationEnvShape);
const logger = createLogger('certification', { level: env.LOG_LEVEL });
const transport = await createEventTransport(env, 'certification');
const service = await startCertification({ env, logger, transport });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void service
      .stop()
      .then(() => transport.close())
      .then(() => process.exit(0));
  });
}
