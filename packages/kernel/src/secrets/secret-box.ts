import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Encryption at rest for secrets and PII (TOTP secrets, private keys, OAuth tokens, e-mail addresses):
 * AES-256-GCM with a random 96-bit IV per value. The output names its version and key id so keys can be
 * rotated: `v1.<keyId>.<iv>.<tag>.<ciphertext>` (base64url parts).
 */
export interface SecretBox {
  encrypt(plaintext: string, associatedData?: string): string;
  /** Throws when the value was tampered with, encrypted under another key, or for other associated data. */
  decrypt(sealed: string, associatedData?: string): string;
}

export interface SecretKey {
  /** Short identifier stored with each value, e.g. `k1`. */
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** Parses `SECRETS_KEY`: `<id>:<base64 of 32 bytes>`, or just the base64 (id `k1`). */
export function parseSecretKey(value: string): SecretKey {
  const [id, encoded] = value.includes(':') ? (value.split(':', 2) as [string, string]) : ['k1', value];
  const key = Buffer.from(encoded, 'base64');
  if (key.length !== 32) throw new Error('SECRETS_KEY must hold 32 bytes, base64-encoded');
  if (!/^[A-Za-z0-9_-]{1,16}$/.test(id)) throw new Error('SECRETS_KEY id must be 1–16 of A-Z a-z 0-9 _ -');
  return { id, key };
}

/**
 * @param current encrypts new values
 * @param previous still decrypts values sealed before a key rotation
 */
export function createSecretBox(current: SecretKey, previous: readonly SecretKey[] = []): SecretBox {
  const keys = new Map([current, ...previous].map((entry) => [entry.id, entry.key]));
  return {
    encrypt(plaintext, associatedData = '') {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      cipher.setAAD(Buffer.from(associatedData, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const parts = [iv, cipher.getAuthTag(), ciphertext].map((part) => part.toString('base64url'));
      return ['v1', current.id, ...parts].join('.');
    },
    decrypt(sealed, associatedData = '') {
      const [version, keyId, iv, tag, ciphertext] = sealed.split('.');
      if (version !== 'v1' || !keyId || !iv || !tag || ciphertext === undefined) {
        throw new Error('Not a sealed value');
      }
      const key = keys.get(keyId);
      if (!key) throw new Error(`Sealed under unknown key "${keyId}"`);
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(associatedData, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(ciphertext, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
    },
  };
}
