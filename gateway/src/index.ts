import { createLogger, EnvError } from '@symbeon/kernel';
import { parseGatewayEnv } from './env.js';
import { startGateway } from './gateway.js';

// Wiring only: env -> gateway -> shutdown.
let env;
try {
  env = parseGatewayEnv();
} catch (error) {
  if (!(error instanceof EnvError)) throw error;
  process.stderr.write(`gateway: ${error.message}\nSee .env.example for every variable.\n`);
  process.exit(1);
}
const logger = createLogger('gateway', { level: env.LOG_LEVEL });
const gateway = await startGateway({ env, logger });
logger.info({ url: `${gateway.url}/graphql`, supergraph: env.SUPERGRAPH_PATH }, 'gateway ready');

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void gateway.stop().then(() => process.exit(0)));
}
