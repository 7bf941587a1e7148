import { z } from 'zod';
import { commonEnvShape, envField, parseEnv } from '@symbeon/kernel';

/** Every variable the learning subgraph reads. The only reader of process.env for this service. */
export const learningEnvShape = {
  ...commonEnvShape,
  LEARNING_PORT: envField.port(8007),
  LEARNING_HOST: z.string().default('127.0.0.1'),
  /** Overrides DATABASE_URL for this subgraph (one database per subgraph). */
  LEARNING_DATABASE_URL: commonEnvShape.DATABASE_URL,
  /** HMAC key of the gateway's internal tokens, the gateway's value; required in production. */
  INTERNAL_AUTH_SECRET: envField.internalAuthSecret(),
};

export type LearningEnv = ReturnType<typeof parseLearningEnv>;

export function parseLearningEnv(source: Record<string, string | undefined> = process.env) {
  return parseEnv(learningEnvShape, source);
}
