import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSecretBox, parseSecretKey } from './secret-box.js';

const key = (id: string) => ({ id, key: randomBytes(32) });

describe('secret box (AES-256-GCM)', () => {
  it('round-trips, with a fresh IV every time', () => {
    const box = createSecretBox(key('k1'));
    const a = box.encrypt('JBSWY3DPEHPK3PXP', 'totp:user-1');
    const b = box.encrypt('JBSWY3DPEHPK3PXP', 'totp:user-1');
    expect(a).not.toBe(b);
    expect(a).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.decrypt(a, 'totp:user-1')).toBe('JBSWY3DPEHPK3PXP');
  });

  it('refuses tampered values, other associated data and unknown keys', () => {
    const box = createSecretBox(key('k1'));
    const sealed = box.encrypt('secret', 'user-1');
    const parts = sealed.split('.');
    const flipped = Buffer.from(parts[4]!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    parts[4] = flipped.toString('base64url');
    expect(() => box.decrypt(parts.join('.'), 'user-1')).toThrow();
    expect(() => box.decrypt(sealed, 'user-2')).toThrow();
    expect(() => createSecretBox(key('k1')).decrypt(sealed, 'user-1')).toThrow();
    expect(() => box.decrypt('garbage')).toThrow('Not a sealed value');
  });

  it('decrypts with previous keys after a rotation', () => {
    const old = key('k1');
    const sealed = createSecretBox(old).encrypt('kept');
    const rotated = createSecretBox(key('k2'), [old]);
    expect(rotated.decrypt(sealed)).toBe('kept');
    expect(rotated.encrypt('new').split('.')[1]).toBe('k2');
  });

  it('parses SECRETS_KEY and refuses short keys', () => {
    const encoded = randomBytes(32).toString('base64');
    expect(parseSecretKey(`k7:${encoded}`).id).toBe('k7');
    expect(parseSecretKey(encoded).id).toBe('k1');
    expect(() => parseSecretKey(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
  });
});
