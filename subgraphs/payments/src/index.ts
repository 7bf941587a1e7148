import { createEventTransport, createLogger, loadEnvOrExit } from '@symbeon/kernel';
import { paymentsEnvShape } from './env.js';
import { startPayments } from './service.js';

// Wiring only: env -> clients -> service -> shutdown.
const env = loadEnvOrExit('payments', paymentsEnvShape);
const logger = createLogger('payments', { level: env.LOG_LEVEL });
const transport = await createEventTransport(env, 'payments');
const service = await startPayments({ env, logger, transport });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void service
      .stop()
      .then(() => transport.close())
      .then(() => process.exit(0));
  });
}
