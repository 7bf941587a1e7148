import { z } from 'zod';
import { commonEnvShape, envField, parseEnv } from '@symbeon/kernel';

/** Every variable the certification subgraph reads. The only reader of process.env for this service. */
export const certificationEnvShape = {
  ...commonEnvShape,
  CERTIFICATION_PORT: envField.port(8005),
  CERTIFICATION_HOST: z.string().default('127.0.0.1'),
  /** Overrides DATABASE_URL for this subgraph (one database per subgraph). */
  CERTIFICATION_DATABASE_URL: commonEnvShape.DATABASE_URL,
  /** HMAC key of the gateway's internal tokens, the gateway's value; required in production. */
  INTERNAL_AUTH_SECRET: envField.internalAuthSecret(),
};

export type CertificationEnv = ReturnType<typeof parseCertificationEnv>;

export function parseCertificationEnv(source: Record<string, string | undefined> = process.env) {
  return parseEnv(certificationEnvShape, source);
}
