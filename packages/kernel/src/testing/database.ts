import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { openDatabase, type Database, type DatabaseOptions } from '../db/database.js';
import { canConnect, databaseUrlForTests, servicesRequired } from './services.js';

export interface TestDatabase<TSchema extends Record<string, unknown>> extends Database<TSchema> {
  /** The URL of the throw-away PostgreSQL database, when the test runs on PostgreSQL. */
  url?: string;
}

let warned = false;

/**
 * A fresh, migrated database for one test file: a new PostgreSQL database (dropped on close) when
 * DATABASE_URL is reachable — always in CI — and an in-memory PGlite otherwise.
 */
export async function openTestDatabase<TSchema extends Record<string, unknown>>(
  options: Omit<DatabaseOptions<TSchema>, 'databaseUrl' | 'dataDir'>,
): Promise<TestDatabase<TSchema>> {
  const adminUrl = databaseUrlForTests();
  if (adminUrl && (await canConnect(adminUrl, 5432))) {
    const name = `symbeon_test_${randomBytes(6).toString('hex')}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const database = await openDatabase({ ...options, databaseUrl: url.toString() });
    return {
      ...database,
      url: url.toString(),
      close: async () => {
        await database.close();
        const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} });
        await dropper.unsafe(`drop database if exists ${name} with (force)`);
        await dropper.end();
      },
    };
  }
  if (servicesRequired) throw new Error('DATABASE_URL is required (CI=true or REQUIRE_SERVICES=1)');
  if (!warned) {
    warned = true;
    console.warn('[test database] DATABASE_URL not reachable: running on in-memory PGlite');
  }
  return openDatabase(options);
}
