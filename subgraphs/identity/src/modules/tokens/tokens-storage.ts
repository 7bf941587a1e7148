import { inArray, sql, eq } from 'drizzle-orm';
import type { Db } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';

type IdentityDb = Db<typeof schema>;
type Tx = Parameters<Parameters<IdentityDb['transaction']>[0]>[0];

/** A signing key without its sealed private half: what rotation planning and the JWKS need. */
export type SigningKeyRow = Omit<typeof schema.signingKeys.$inferSelect, 'privateJwkEncrypted'>;
export type NewSigningKey = typeof schema.signingKeys.$inferInsert;

// Serialises rotation passes across replicas; hashtext gives the int key pg_advisory_xact_lock takes.
const ROTATION_LOCK = 'symbeon:identity:signing-keys';

const publicColumns = {
  kid: schema.signingKeys.kid,
  publicJwk: schema.signingKeys.publicJwk,
  createdAt: schema.signingKeys.createdAt,
  activatesAt: schema.signingKeys.activatesAt,
  retiresAt: schema.signingKeys.retiresAt,
  expiresAt: schema.signingKeys.expiresAt,
};

function listKeys(db: IdentityDb | Tx): Promise<SigningKeyRow[]> {
  return db.select(publicColumns).from(schema.signingKeys).orderBy(schema.signingKeys.activatesAt);
}

function rotationStorage(tx: Tx) {
  return {
    listKeys: () => listKeys(tx),
    async insertKey(key: NewSigningKey): Promise<void> {
      await tx.insert(schema.signingKeys).values(key);
    },
    async deleteKeys(kids: readonly string[]): Promise<void> {
      if (kids.length === 0) return;
      await tx.delete(schema.signingKeys).where(inArray(schema.signingKeys.kid, [...kids]));
    },
  };
}

export type RotationStorage = ReturnType<typeof rotationStorage>;

export function createTokensStorage(db: IdentityDb) {
  return {
    listKeys: () => listKeys(db),

    async findSealedPrivateKey(kid: string): Promise<string | undefined> {
      const [row] = await db
        .select({ sealed: schema.signingKeys.privateJwkEncrypted })
        .from(schema.signingKeys)
        .where(eq(schema.signingKeys.kid, kid));
      return row?.sealed;
    },

    /**
     * Runs one rotation pass in a transaction holding an advisory lock: replicas rotating at the same moment
     * take turns, and each sees the keys the previous one committed.
     */
    withRotationLock<T>(body: (storage: RotationStorage) => Promise<T>): Promise<T> {
      return db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${ROTATION_LOCK}))`);
        return body(rotationStorage(tx));
      });
    },
  };
}

export type TokensStorage = ReturnType<typeof createTokensStorage>;
