import { z } from 'zod';
import { commonEnvShape, envField, parseEnv } from '@symbeon/kernel';

/** Every variable the identity subgraph reads. The only reader of process.env for this service. */
export const identityEnvShape = {
  ...commonEnvShape,
  IDENTITY_PORT: envField.port(8003),
  IDENTITY_HOST: z.string().default('127.0.0.1'),
  /** Overrides DATABASE_URL for this subgraph (one database per subgraph). */
  IDENTITY_DATABASE_URL: commonEnvShape.DATABASE_URL,
};

export type IdentityEnv = ReturnType<typeof parseIdentityEnv>;

export function parseIdentityEnv(source: Record<string, string | undefined> = process.env) {
  return parseEnv(identityEnvShape, source);
}
