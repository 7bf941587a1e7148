import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { openDatabase, type Database, type DatabaseOptions } from '../db/database.js';
import { canConnect, databaseUrlForTests, servicesRequired } from './services.js';

export interface TestDatabase<TSchema extends Record<string, unknown>> extends Database<TSchema> {
  /** The URL of the throw-away PostgreSQL database, when the test runs on PostgreSQL. */
  url?: string;
}

let warned = false;

/**
 * Where a test's data goes: a new, empty PostgreSQL database (dropped by `cleanup`) when DATABASE_URL is
 * reachable — always in CI — otherwise a fresh folder for PGlite.
 */
export async function createTestDatabaseTarget(): Promise<{
  databaseUrl?: string;
  dataDir: string;
  cleanup: () => Promise<void>;
}> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'symbeon-test-'));
  const removeDir = async () => rmSync(dataDir, { recursive: true, force: true });
  const adminUrl = databaseUrlForTests();
  if (adminUrl && (await canConnect(adminUrl, 5432))) {
    const name = `symbeon_test_${randomBytes(6).toString('hex')}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    return {
      databaseUrl: url.toString(),
      dataDir,
      cleanup: async () => {
        const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} });
        await dropper.unsafe(`drop database if exists ${name} with (force)`);
        await dropper.end();
        await removeDir();
      },
    };
  }
  if (servicesRequired) throw new Error('DATABASE_URL must be reachable (CI=true or REQUIRE_SERVICES=1)');
  if (!warned) {
    warned = true;
    console.warn('[test database] DATABASE_URL not reachable: running on PGlite');
  }
  return { dataDir, cleanup: removeDir };
}

/** A fresh, migrated database for one test file (see createTestDatabaseTarget). */
export async function openTestDatabase<TSchema extends Record<string, unknown>>(
  options: Omit<DatabaseOptions<TSchema>, 'databaseUrl' | 'dataDir'>,
): Promise<TestDatabase<TSchema>> {
  const target = await createTestDatabaseTarget();
  const database = await openDatabase({
    ...options,
    ...(target.databaseUrl ? { databaseUrl: target.databaseUrl } : {}),
    dataDir: target.dataDir,
  });
  return {
    ...database,
    ...(target.databaseUrl ? { url: target.databaseUrl } : {}),
    close: async () => {
      await database.close();
      await target.cleanup();
    },
  };
}
