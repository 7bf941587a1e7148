import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { canConnect, servicesRequired } from '@symbeon/kernel/testing';
import { graphqlClient, type GraphQLRequest } from './graphql.js';
import { freePort, internalAuthSecret, startProcess, type RunningProcess } from './processes.js';

export interface TestStack {
  /** The gateway's origin, e.g. http://127.0.0.1:41234 */
  url: string;
  graphql: GraphQLRequest;
  /** Subgraph origins, e.g. http://127.0.0.1:41235 (GraphQL at /graphql). */
  subgraphUrls: {
    identity: string;
    learning: string;
    chain: string;
    certification: string;
    payments: string;
  };
  /** The chain node's JSON-RPC URL (the anvil the stack started). */
  rpcUrl: string;
  process: RunningProcess;
  /** Environment the stack runs with (database, Redis, data folder, INTERNAL_AUTH_SECRET). */
  env: Record<string, string>;
  /** Stops the process (SIGTERM, as Ctrl-C) and starts it again on the same data; resolves with the exit code. */
  restart(): Promise<number | null>;
  stop(): Promise<void>;
}

/** Where the stack's state goes: a fresh PostgreSQL database and Redis prefix when available, else PGlite. */
async function isolatedServices(): Promise<{ env: Record<string, string>; cleanup: () => Promise<void> }> {
  const env: Record<string, string> = {};
  const cleanups: Array<() => Promise<void>> = [];
  const adminUrl = process.env.DATABASE_URL;
  if (adminUrl && (await canConnect(adminUrl, 5432))) {
    const name = `symbeon_e2e_${randomBytes(6).toString('hex')}`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    env.DATABASE_URL = url.toString();
    cleanups.push(async () => {
      const dropper = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await dropper.unsafe(`drop database if exists ${name} with (force)`);
      await dropper.end();
    });
  } else if (servicesRequired) {
    throw new Error('DATABASE_URL must be reachable for end-to-end tests in CI');
  } else {
    env.DATABASE_URL = '';
  }
  const redisUrl = process.env.REDIS_URL;
  if (redisUrl && (await canConnect(redisUrl, 6379))) {
    env.REDIS_URL = redisUrl;
    env.REDIS_PREFIX = `e2e:${randomBytes(6).toString('hex')}`;
  } else if (servicesRequired) {
    throw new Error('REDIS_URL must be reachable for end-to-end tests in CI');
  } else {
    env.REDIS_URL = '';
  }
  return { env, cleanup: async () => void (await Promise.all(cleanups.map((cleanup) => cleanup()))) };
}

async function launch(env: Record<string, string>) {
  const proc = startProcess('stack/src/index.ts', env);
  try {
    const [, url] = await proc.waitFor(/GraphQL API \+ Apollo Sandbox\s+(http:\/\/\S+)\/graphql/, 120_000);
    const [, identity] = await proc.waitFor(/identity subgraph\s+(http:\/\/\S+?)\/graphql/);
    const [, learning] = await proc.waitFor(/learning subgraph\s+(http:\/\/\S+?)\/graphql/);
    const [, chain] = await proc.waitFor(/chain subgraph\s+(http:\/\/\S+?)\/graphql/);
    const [, certification] = await proc.waitFor(/certification subgraph\s+(http:\/\/\S+?)\/graphql/);
    const [, payments] = await proc.waitFor(/payments subgraph\s+(http:\/\/\S+?)\/graphql/);
    const [, rpcUrl] = await proc.waitFor(/chain node \(JSON-RPC\)\s+(http:\/\/\S+)/);
    return {
      proc,
      url: url!,
      subgraphUrls: {
        identity: identity!,
        learning: learning!,
        chain: chain!,
        certification: certification!,
        payments: payments!,
      },
      rpcUrl: rpcUrl!,
    };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/**
 * Starts the whole system the way `npm start` does, on ephemeral ports and its own data, and waits until
 * the gateway is ready. Demo data is seeded.
 */
export async function startTestStack(extraEnv: Record<string, string> = {}): Promise<TestStack> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'symbeon-e2e-'));
  const services = await isolatedServices();
  const env = {
    ...services.env,
    DATA_DIR: dataDir,
    PORT: '0',
    IDENTITY_PORT: '0',
    LEARNING_PORT: '0',
    CHAIN_PORT: '0',
    CERTIFICATION_PORT: '0',
    PAYMENTS_PORT: '0',
    ANVIL_PORT: '0',
    SEED_DEMO_DATA: 'true',
    // Every test talks from 127.0.0.1: budgets large enough that only tests/e2e/rate-limits meets them.
    RATE_LIMITS: 'ANONYMOUS:100000/100000000,FREE:100000/100000000',
    INTERNAL_AUTH_SECRET: internalAuthSecret,
    ...extraEnv,
  };
  const cleanup = async () => {
    await services.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  };
  let running;
  try {
    running = await launch(env);
  } catch (error) {
    await cleanup();
    throw error;
  }
  const stack: TestStack = {
    url: running.url,
    graphql: graphqlClient(`${running.url}/graphql`),
    subgraphUrls: running.subgraphUrls,
    rpcUrl: running.rpcUrl,
    process: running.proc,
    env,
    async restart() {
      const code = await stack.process.stop();
      const next = await launch(env);
      Object.assign(stack, {
        url: next.url,
        graphql: graphqlClient(`${next.url}/graphql`),
        subgraphUrls: next.subgraphUrls,
        rpcUrl: next.rpcUrl,
        process: next.proc,
      });
      return code;
    },
    async stop() {
      await stack.process.stop();
      await cleanup();
    },
  };
  return stack;
}

/**
 * startTestStack with the gateway on a port chosen up front, for flows whose URLs name the public origin
 * (certification's upload and report URLs: CERTIFICATION_PUBLIC_URL; payments' return and invoice URLs:
 * PAYMENTS_PUBLIC_URL).
 */
export async function startPublicTestStack(extraEnv: Record<string, string> = {}): Promise<TestStack> {
  const port = await freePort();
  return startTestStack({
    PORT: String(port),
    CERTIFICATION_PUBLIC_URL: `http://127.0.0.1:${port}`,
    PAYMENTS_PUBLIC_URL: `http://127.0.0.1:${port}`,
    ...extraEnv,
  });
}
