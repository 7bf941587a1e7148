import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The embedded profile's secret provider: generated on first start into `<DATA_DIR>/secrets.json` (mode
 * 0600) and reused after, so a developer never has to configure one. Production takes them from the
 * environment (or Vault) instead and never calls this.
 */
export interface EmbeddedSecrets {
  /** Encryption at rest (SECRETS_KEY format: `<id>:<base64 32 bytes>`). */
  SECRETS_KEY: string;
  /** HMAC key of the gateway's internal tokens (INTERNAL_AUTH_SECRET). */
  INTERNAL_AUTH_SECRET: string;
}

export function loadOrCreateEmbeddedSecrets(dataDir: string): EmbeddedSecrets {
  const file = path.join(dataDir, 'secrets.json');
  try {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<EmbeddedSecrets>;
    if (stored.SECRETS_KEY && stored.INTERNAL_AUTH_SECRET) return stored as EmbeddedSecrets;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const secrets: EmbeddedSecrets = {
    SECRETS_KEY: `k1:${randomBytes(32).toString('base64')}`,
    INTERNAL_AUTH_SECRET: randomBytes(48).toString('base64url'),
  };
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600, flag: 'w' });
  return secrets;
}
