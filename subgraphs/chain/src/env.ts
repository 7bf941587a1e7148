import path from 'node:path';
import { z } from 'zod';
import { commonEnvShape, envField, EnvError, parseEnv } from '@symbeon/kernel';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** Every variable the chain subgraph reads. The only reader of process.env for this service. */
export const chainEnvShape = {
  ...commonEnvShape,
  CHAIN_PORT: envField.port(8004),
  CHAIN_HOST: z.string().default('127.0.0.1'),
  /** Overrides DATABASE_URL for this subgraph (one database per subgraph). */
  CHAIN_DATABASE_URL: commonEnvShape.DATABASE_URL,
  /** HMAC key of the gateway's internal tokens, the gateway's value; required in production. */
  INTERNAL_AUTH_SECRET: envField.internalAuthSecret(),
  /** JSON-RPC of the chain node. */
  CHAIN_RPC_URL: z.url().default('http://127.0.0.1:8545'),
  /** The record @symbeon/contracts' writeDeployment wrote. Default: <DATA_DIR>/chain/deployment.json. */
  CHAIN_DEPLOYMENT_PATH: z.string().optional(),
  /**
   * Private key of the account that sends every transaction (holds ISSUER_ROLE). Required in production;
   * elsewhere the default is anvil's dev account 0, which the local deployment makes an issuer. Never logged.
   */
  CHAIN_SIGNER_KEY: z
    .string()
    .regex(/^0x[0-9a-fA-F]{64}$/, 'must be a 0x-prefixed 32-byte hex private key')
    .optional(),
  /** Blocks per eth_getLogs request of the indexer. */
  CHAIN_BLOCK_RANGE: positiveInt(2000),
  /** How often the indexer and the transaction sender poll the node (default 500 embedded, 2000 services). */
  CHAIN_POLL_INTERVAL_MS: z.coerce.number().int().positive().optional(),
  /** The indexer only processes blocks at most head - CHAIN_CONFIRMATIONS (0: the head itself). */
  CHAIN_CONFIRMATIONS: z.coerce.number().int().min(0).max(1000).default(0),
  /** Upper bound of a transaction's gas limit; a call estimated above it is refused. */
  CHAIN_GAS_LIMIT_CAP: positiveInt(1_000_000),
  /** Upper bound of maxFeePerGas, in gwei (decimals allowed). */
  CHAIN_MAX_FEE_GWEI: z.coerce.number().positive().default(500),
  /** Replace a transaction not mined after this many seconds (same nonce, fees +15 %, ≤ CHAIN_MAX_FEE_GWEI). */
  CHAIN_REPLACE_AFTER_SECONDS: positiveInt(120),
  /** Run the event indexer in this process (replicas may leave it to one of them). */
  CHAIN_INDEXER: envField.bool(true),
};

export type ChainEnv = ReturnType<typeof parseChainEnv>;

export function parseChainEnv(source: Record<string, string | undefined> = process.env) {
  const env = parseEnv(chainEnvShape, source);
  if (env.NODE_ENV === 'production' && !env.CHAIN_SIGNER_KEY) {
    throw new EnvError([
      'CHAIN_SIGNER_KEY: required when NODE_ENV=production (the private key of an account holding ISSUER_ROLE)',
    ]);
  }
  const embedded = !env.DATABASE_URL && !env.CHAIN_DATABASE_URL && !env.REDIS_URL;
  return {
    ...env,
    CHAIN_DEPLOYMENT_PATH: env.CHAIN_DEPLOYMENT_PATH
      ? path.resolve(process.env.INIT_CWD ?? process.cwd(), env.CHAIN_DEPLOYMENT_PATH)
      : path.join(env.DATA_DIR, 'chain', 'deployment.json'),
    CHAIN_POLL_INTERVAL_MS: env.CHAIN_POLL_INTERVAL_MS ?? (embedded ? 500 : 2000),
  };
}
