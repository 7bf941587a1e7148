import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * A path from the environment, resolved against the folder the user ran npm in (INIT_CWD), not the
 * workspace folder `npm run -w` switches to.
 */
export const pathFrom = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((value) => (value ? path.resolve(process.env.INIT_CWD ?? process.cwd(), value) : fallback));

export class EnvError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid environment:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
    this.name = 'EnvError';
  }
}

type Source = Record<string, string | undefined>;

/**
 * Parses the environment with a zod object schema and reports every problem at once. Empty strings count
 * as unset so that `FOO=` in a .env file falls back to the default instead of failing validation.
 */
export function parseEnv<TShape extends z.ZodRawShape>(
  shape: TShape,
  source: Source = process.env,
): z.infer<z.ZodObject<TShape>> {
  const cleaned: Source = {};
  for (const key of Object.keys(shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = z.object(shape).safeParse(cleaned);
  if (!result.success) {
    throw new EnvError(
      result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`),
    );
  }
  return result.data;
}

/**
 * For entry points: parse, or print every problem and exit with status 1. Libraries and tests call
 * `parseEnv` instead and handle `EnvError`.
 */
export function loadEnvOrExit<TShape extends z.ZodRawShape>(
  service: string,
  shape: TShape,
  source: Source = process.env,
): z.infer<z.ZodObject<TShape>> {
  try {
    return parseEnv(shape, source);
  } catch (error) {
    if (error instanceof EnvError) {
      process.stderr.write(`${service}: ${error.message}\nSee .env.example for every variable.\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** Reusable field types so every service spells its variables the same way. */
export const envField = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback),
  url: () => z.url(),
  optionalUrl: () => z.url().optional(),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((value) => value === 'true' || value === '1' || value === 'yes'),
  /** A boolean whose default depends on other settings (undefined when unset). */
  optionalBool: () =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .optional()
      .transform((value) =>
        value === undefined ? undefined : value === 'true' || value === '1' || value === 'yes',
      ),
  list: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((value) =>
        value
          .split(',')
          .map((item) => item.trim())
          .filter(Boolean),
      ),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  nodeEnv: () => z.enum(['development', 'production', 'test']).default('development'),
  /**
   * INTERNAL_AUTH_SECRET: the HMAC key of the gateway's internal tokens, the same for the gateway and every
   * subgraph. Optional here because the embedded profile generates one; its length (at least 32 bytes)
   * and its presence in production are checked at start-up by resolveInternalAuthSecret.
   */
  internalAuthSecret: () => z.string().optional(),
};

/** Variables every service shares: where its data lives and which adapters it uses. */
export const commonEnvShape = {
  NODE_ENV: envField.nodeEnv(),
  LOG_LEVEL: envField.logLevel(),
  /** PostgreSQL (services profile). Unset: PGlite under DATA_DIR (embedded profile). */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional(),
  /** Redis (services profile). Unset: in-process cache, bus and jobs (embedded profile). */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional(),
  /** Embedded profile state: PGlite, chain, content store. Default: `.data/` at the repository root. */
  DATA_DIR: pathFrom(path.join(repositoryRoot, '.data')),
  /** Namespace for Redis keys, streams and queues, so several deployments can share one Redis. */
  REDIS_PREFIX: z.string().default('symbeon'),
};
