import { z } from 'zod';
import {
  commonEnvShape,
  envField,
  EnvError,
  loadOrCreateEmbeddedSecrets,
  parseEnv,
  parseSecretKey,
  type SecretKey,
} from '@symbeon/kernel';

/** A duration in whole seconds. */
const seconds = (fallback: number, min = 1) => z.coerce.number().int().min(min).default(fallback);

function secretKeyIssue(value: string): string | undefined {
  try {
    parseSecretKey(value);
    return undefined;
  } catch (error) {
    // The message names the format, never the value.
    return (error as Error).message;
  }
}

/** A secret key: `<id>:<base64 of 32 bytes>`, or the base64 alone (id `k1`). */
const secretKey = () =>
  z
    .string()
    .optional()
    .superRefine((value, context) => {
      const issue = value === undefined ? undefined : secretKeyIssue(value);
      if (issue) context.addIssue({ code: 'custom', message: issue });
    });

/** Comma-separated secret keys. */
const secretKeyList = () =>
  z
    .string()
    .optional()
    .superRefine((value, context) => {
      for (const item of splitList(value)) {
        const issue = secretKeyIssue(item);
        if (issue) context.addIssue({ code: 'custom', message: issue });
      }
    });

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

const oidcProvider = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'lower-case letters, digits and -, at most 32'),
  name: z.string().min(1).max(60),
  issuer: z.url(),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1).optional(),
  /** Requested scopes besides `openid` (default: profile email). */
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/)).default(['profile', 'email']),
});

export type OidcProviderConfig = z.infer<typeof oidcProvider>;

/** Every variable the identity subgraph reads. The only reader of process.env for this service. */
export const identityEnvShape = {
  ...commonEnvShape,
  IDENTITY_PORT: envField.port(8003),
  IDENTITY_HOST: z.string().default('127.0.0.1'),
  /** Overrides DATABASE_URL for this subgraph (one database per subgraph). */
  IDENTITY_DATABASE_URL: commonEnvShape.DATABASE_URL,
  /** HMAC key of the gateway's internal tokens, the gateway's value; required in production. */
  INTERNAL_AUTH_SECRET: envField.internalAuthSecret(),
  /**
   * Encryption at rest (private signing keys, TOTP secrets...). Required in production; elsewhere
   * generated once into `<DATA_DIR>/secrets.json`.
   */
  SECRETS_KEY: secretKey(),
  /** Keys that still decrypt values sealed before SECRETS_KEY was rotated, comma-separated. */
  SECRETS_PREVIOUS_KEYS: secretKeyList(),
  /** Sign-In with Ethereum: accepted message domains (host[:port]), comma-separated. */
  SIWE_DOMAINS: envField.list('localhost:8000,127.0.0.1:8000,localhost:5173'),
  /** Accepted message URI origins, comma-separated. */
  SIWE_URIS: envField.list('http://localhost:8000,http://127.0.0.1:8000,http://localhost:5173'),
  /** Accepted chain ids, comma-separated (31337: the local anvil chain). */
  SIWE_CHAIN_IDS: z
    .string()
    .default('31337')
    .refine((value) => /^\s*\d+(\s*,\s*\d+)*\s*$/.test(value), 'must be comma-separated chain ids')
    .transform((value) => value.split(',').map((id) => Number(id.trim()))),
  /** How old a message's Issued At may be, seconds. */
  SIWE_MAX_AGE: seconds(10 * 60, 30),
  /** JSON-RPC of the chain that contract wallets (EIP-1271) are checked on; unset: wallets must be accounts. */
  CHAIN_RPC_URL: z.url().optional(),
  /**
   * An address whose user becomes ADMIN and ISSUER at start-up (services profile). The embedded stack makes
   * anvil's first dev account the admin instead.
   */
  BOOTSTRAP_ADMIN_ADDRESS: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x address')
    .optional(),
  /**
   * OpenID Connect providers people may sign in with: a JSON array of
   * `{ "id", "name", "issuer", "clientId", "clientSecret"?, "scopes"? }` (id: lower-case letters, digits, `-`).
   * Register `<OIDC_REDIRECT_BASE>/auth/oidc/<id>/callback` as the redirect URI at each provider.
   */
  OIDC_PROVIDERS: z
    .string()
    .default('[]')
    .transform((value, context) => {
      try {
        return JSON.parse(value) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'must be a JSON array of providers' });
        return z.NEVER;
      }
    })
    .pipe(z.array(oidcProvider))
    .refine(
      (providers) => new Set(providers.map(({ id }) => id)).size === providers.length,
      'provider ids must be unique',
    ),
  /** The public origin the sign-in routes are reached at (the gateway); callbacks are built from it. */
  OIDC_REDIRECT_BASE: z.url().default('http://localhost:8000'),
  /** Origins a finished OIDC sign-in may return the browser to, comma-separated. */
  OIDC_RETURN_ORIGINS: envField.list('http://localhost:8000,http://127.0.0.1:8000,http://localhost:5173'),
  /** `iss` of access tokens; the gateway pins it. */
  AUTH_ISSUER: z.string().min(1).default('http://localhost:8000'),
  /** `aud` of access tokens; the gateway pins it. */
  AUTH_AUDIENCE: z.string().min(1).default('symbeon-api'),
  /** Access token lifetime, seconds. */
  ACCESS_TOKEN_TTL: seconds(15 * 60, 30),
  /** A session's absolute lifetime, seconds: refreshing never extends it. */
  SESSION_TTL: seconds(30 * 24 * 60 * 60, 60),
  /** How long a signing key signs, seconds. */
  KEY_ROTATION_INTERVAL: seconds(24 * 60 * 60, 60),
  /**
   * How long a new signing key is published before it signs, seconds. Keep it above the JWKS cache age
   * (300 s) so verifiers hold a key before its first token.
   */
  KEY_PUBLISH_LEAD: seconds(10 * 60, 0),
};

export type IdentityEnv = ReturnType<typeof parseIdentityEnv>;

export function parseIdentityEnv(source: Record<string, string | undefined> = process.env) {
  return parseEnv(identityEnvShape, source);
}

/**
 * The keys of the secret box. Production must be given SECRETS_KEY (an EnvError otherwise); development
 * and tests use the embedded provider's, generated once per DATA_DIR, so nothing needs configuring.
 */
export function identitySecretKeys(env: IdentityEnv): { current: SecretKey; previous: SecretKey[] } {
  let current = env.SECRETS_KEY;
  if (!current) {
    if (env.NODE_ENV === 'production') {
      throw new EnvError([
        'SECRETS_KEY: required in production (`<id>:<base64 of 32 bytes>`, e.g. from `openssl rand -base64 32`)',
      ]);
    }
    current = loadOrCreateEmbeddedSecrets(env.DATA_DIR).SECRETS_KEY;
  }
  return {
    current: parseSecretKey(current),
    previous: splitList(env.SECRETS_PREVIOUS_KEYS).map(parseSecretKey),
  };
}
