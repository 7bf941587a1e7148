import { createEventTransport, createLogger, EnvError } from '@symbeon/kernel';
import { parseChainEnv, type ChainEnv } from './env.js';
import { startChain } from './public.js';

// Wiring only: env -> clients -> service -> shutdown.
let env: ChainEnv;
try {
  env = parseChainEnv();
} catch (error) {
  if (!(error instanceof EnvError)) throw error;
  process.stderr.write(`chain: ${error.message}\nSee .env.example for every variable.\n`);
  process.exit(1);
}
const logger = createLogger('chain', { level: env.LOG_LEVEL });
const transport = await createEventTransport(env, 'chain');
const service = await startChain({ env, logger, transport });

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void service
      .stop()
      .then(() => transport.close())
      .then(() => process.exit(0));
  });
}
