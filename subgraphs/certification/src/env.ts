import path from 'node:path';
import { z } from 'zod';
import { commonEnvShape, contentStoreEnvShape, envField, parseEnv } from '@symbeon/kernel';

/** Every variable the certification subgraph reads. The only reader of process.env for this service. */
export const certificationEnvShape = {
  ...commonEnvShape,
  CERTIFICATION_PORT: envField.port(8005),
  CERTIFICATION_HOST: z.string().default('127.0.0.1'),
  /** Overrides DATABASE_URL for this subgraph (one database per subgraph). */
  CERTIFICATION_DATABASE_URL: commonEnvShape.DATABASE_URL,
  /** HMAC key of the gateway's internal tokens, the gateway's value; required in production. */
  INTERNAL_AUTH_SECRET: envField.internalAuthSecret(),
  /** Kubo's RPC API for certificate metadata and evidence; unset: the embedded store in DATA_DIR/ipfs. */
  IPFS_API_URL: contentStoreEnvShape.IPFS_API_URL,
  /** The chain node verification reads (never signs). The chain subgraph's value. */
  CHAIN_RPC_URL: z.url().default('http://127.0.0.1:8545'),
  /** The contracts' deployment record, the chain subgraph's value. Default: <DATA_DIR>/chain/deployment.json. */
  CHAIN_DEPLOYMENT_PATH: z.string().optional(),
  /** Blocks a certificate's issuance must be buried under before verification calls it valid (≥ 1). */
  CERTIFICATION_VERIFY_CONFIRMATIONS: z.coerce.number().int().min(1).max(1000).default(1),
  /** The certificates' issuer named in their metadata and Verifiable Credentials. */
  CERTIFICATION_ISSUER_NAME: z.string().trim().min(1).default('Symbeon'),
  /**
   * Public base URL of the web app (the gateway's origin): the credential's issuer id, the verification links,
   * the evidence upload URLs (/uploads/<token>) and the evidence and audit report links (/ipfs/<cid>).
   */
  CERTIFICATION_PUBLIC_URL: z.url().default('http://localhost:8000'),
  /** How often the expiry sweep runs (marks expired certificates, opens renewal windows), in seconds. */
  CERTIFICATION_EXPIRY_SWEEP_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** Days before expiry that a certificate's renewal opens (its request moves to RENEWAL_DUE). */
  CERTIFICATION_RENEWAL_WINDOW_DAYS: z.coerce.number().int().min(0).max(3650).default(30),
  /**
   * MERKLE_BATCH programmes: a batch of certificates is anchored as soon as it has this many (≤ 256: its
   * manifest stays one IPFS block, whose digest the chain records)...
   */
  CERTIFICATION_BATCH_MAX_SIZE: z.coerce.number().int().min(1).max(256).default(64),
  /** ...or this many seconds after its first certificate joined, whichever comes first. */
  CERTIFICATION_BATCH_MAX_WAIT_SECONDS: z.coerce.number().int().min(1).max(604_800).default(60),
};

export type CertificationEnv = ReturnType<typeof parseCertificationEnv>;

export function parseCertificationEnv(source: Record<string, string | undefined> = process.env) {
  return parseEnv(certificationEnvShape, source);
}

/** The deployment record, found the way the chain subgraph finds it, so both read the same file. */
export function chainDeploymentPath(
  env: Pick<CertificationEnv, 'CHAIN_DEPLOYMENT_PATH' | 'DATA_DIR'>,
): string {
  return env.CHAIN_DEPLOYMENT_PATH
    ? path.resolve(process.env.INIT_CWD ?? process.cwd(), env.CHAIN_DEPLOYMENT_PATH)
    : path.join(env.DATA_DIR, 'chain', 'deployment.json');
}
