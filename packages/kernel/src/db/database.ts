import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { Logger as DrizzleLogger } from 'drizzle-orm/logger';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
// Drivers are imported on first use: a process needs one of the two, and each costs start-up time.

/** What storage code receives: drizzle over either driver. Transactions have the same shape. */
export type Db<TSchema extends Record<string, unknown> = Record<string, unknown>> = PgDatabase<
  PgQueryResultHKT,
  TSchema
>;

export interface Database<TSchema extends Record<string, unknown> = Record<string, unknown>> {
  db: Db<TSchema>;
  kind: 'postgres' | 'pglite';
  /** Cheap round trip for readiness probes. */
  ping(): Promise<void>;
  /** LISTEN on a channel; notifications sent in a transaction arrive when it commits. Resolves to unlisten. */
  listen(this: void, channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface DatabaseOptions<TSchema extends Record<string, unknown>> {
  /** The subgraph's Postgres schema, e.g. `learning`; migrations and their journal live in it. */
  schemaName: string;
  /** drizzle-kit output folder (committed SQL migrations). */
  migrationsFolder: string;
  /** drizzle table definitions, for the relational query API. */
  schema: TSchema;
  /** PostgreSQL URL. Unset: PGlite in `dataDir`. */
  databaseUrl?: string | undefined;
  /** Embedded data folder; PGlite lives in `<dataDir>/pglite`. Unset and no URL: in-memory PGlite. */
  dataDir?: string | undefined;
  /** Connection pool size for PostgreSQL. */
  poolMax?: number;
  /** Called with every SQL statement; tests count statements with it. */
  onQuery?: (query: string, params: unknown[]) => void;
}

/** One PGlite per data folder per process: every subgraph of the embedded stack shares it. */
const pglites = new Map<string, { instance: Promise<{ db: PGlite; lockFile: string }>; users: number }>();
const owners = new WeakMap<PGlite, string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite is one process's database: two processes opening one folder corrupt it. A pid lock file makes
 * the second one fail with a clear message instead.
 */
function lockDataFolder(folder: string): string {
  const lockFile = path.join(folder, 'symbeon.pid');
  try {
    const holder = Number(readFileSync(lockFile, 'utf8'));
    if (holder && holder !== process.pid && isAlive(holder)) {
      throw new Error(
        `The embedded database in ${folder} is in use by process ${holder}. ` +
          'Stop it, or give this process another DATA_DIR (or a DATABASE_URL).',
      );
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  writeFileSync(lockFile, String(process.pid));
  return lockFile;
}

const initScript = path.join(path.dirname(fileURLToPath(import.meta.url)), 'pglite-init.mjs');

/** initdb in a short-lived child process (see pglite-init.mjs): the service keeps half the memory. */
async function initializePgliteFolder(folder: string): Promise<void> {
  if (existsSync(path.join(folder, 'PG_VERSION'))) return;
  try {
    await promisify(execFile)(process.execPath, [initScript, folder], { timeout: 120_000 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`Could not create the embedded database in ${folder}: ${stderr || String(error)}`, {
      cause: error,
    });
  }
}

async function acquirePglite(dataDir: string | undefined): Promise<PGlite> {
  if (!dataDir) return PGlite.create();
  const key = path.resolve(dataDir, 'pglite');
  let entry = pglites.get(key);
  if (!entry) {
    // Registered before the first await, so services opening the folder together share one instance.
    entry = {
      users: 0,
      instance: (async () => {
        mkdirSync(key, { recursive: true });
        const lockFile = lockDataFolder(path.resolve(dataDir));
        try {
          await initializePgliteFolder(key);
          return { db: await PGlite.create(key), lockFile };
        } catch (error) {
          rmSync(lockFile, { force: true });
          pglites.delete(key);
          throw error;
        }
      })(),
    };
    pglites.set(key, entry);
  }
  entry.users += 1;
  const { db } = await entry.instance;
  owners.set(db, key);
  return db;
}

async function releasePglite(instance: PGlite): Promise<void> {
  const key = owners.get(instance);
  const entry = key ? pglites.get(key) : undefined;
  if (!key || !entry) {
    await instance.close();
    return;
  }
  entry.users -= 1;
  if (entry.users > 0) return;
  pglites.delete(key);
  const { lockFile } = await entry.instance;
  await instance.close();
  rmSync(lockFile, { force: true });
}

function queryLogger(
  onQuery: DatabaseOptions<Record<string, unknown>>['onQuery'],
): DrizzleLogger | undefined {
  return onQuery ? { logQuery: (query, params) => onQuery(query, params) } : undefined;
}

/**
 * Opens the subgraph's database and brings its schema up to date. PostgreSQL runs the migrations under
 * an advisory lock so replicas starting together apply each migration once.
 */
export async function openDatabase<TSchema extends Record<string, unknown>>(
  options: DatabaseOptions<TSchema>,
): Promise<Database<TSchema>> {
  const migrationConfig = {
    migrationsFolder: options.migrationsFolder,
    migrationsSchema: options.schemaName,
    migrationsTable: '__migrations',
  };
  const logger = queryLogger(options.onQuery);

  if (options.databaseUrl) {
    const url = options.databaseUrl;
    const [{ default: postgres }, { drizzle: drizzlePostgres }, { migrate: migratePostgres }] =
      await Promise.all([
        import('postgres'),
        import('drizzle-orm/postgres-js'),
        import('drizzle-orm/postgres-js/migrator'),
      ]);
    const migrator = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await migrator`select pg_advisory_lock(hashtext(${`symbeon:migrate:${options.schemaName}`}))`;
      await migratePostgres(drizzlePostgres(migrator), migrationConfig);
    } finally {
      await migrator.end({ timeout: 5 });
    }
    const client = postgres(url, { max: options.poolMax ?? 10, onnotice: () => {} });
    const db = drizzlePostgres(client, { schema: options.schema, ...(logger ? { logger } : {}) });
    return {
      db: db as unknown as Db<TSchema>,
      kind: 'postgres',
      ping: async () => {
        await client`select 1`;
      },
      listen: async (channel, onNotify) => {
        const subscription = await client.listen(channel, onNotify);
        return () => subscription.unlisten();
      },
      close: () => client.end({ timeout: 5 }),
    };
  }

  const instance = await acquirePglite(options.dataDir);
  const [{ drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
  ]);
  await migratePglite(drizzlePglite(instance), migrationConfig);
  const db = drizzlePglite(instance, { schema: options.schema, ...(logger ? { logger } : {}) });
  return {
    db: db as unknown as Db<TSchema>,
    kind: 'pglite',
    ping: async () => {
      await db.execute(sql`select 1`);
    },
    listen: (channel, onNotify) => instance.listen(channel, onNotify),
    close: () => releasePglite(instance),
  };
}
