import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deployContracts, writeDeployment, type Deployment } from '@symbeon/contracts';
import { createLogger, createMemoryEventTransport, type EventTransport } from '@symbeon/kernel';
import { anvilDevAccounts, startAnvil, type AnvilNode } from '@symbeon/kernel/anvil';
import { createTestDatabaseTarget } from '@symbeon/kernel/testing';
import { JsonRpcProvider } from 'ethers';
import { parseChainEnv, type ChainEnv } from './env.js';
import { startChainService, type ChainDeps, type ChainService } from './service.js';

export const testInternalAuthSecret = `chain-test-secret-${randomBytes(16).toString('hex')}`;

/**
 * A real chain (anvil on an ephemeral port, contracts deployed, dev account 0 the issuer) and a real
 * database (PostgreSQL when DATABASE_URL is reachable, PGlite otherwise) for the chain subgraph's tests.
 */
export interface ChainFixture {
  node: AnvilNode;
  deployment: Deployment;
  provider: JsonRpcProvider;
  env: ChainEnv;
  transport: EventTransport;
  service: ChainService;
  /** Stops the service (not the node nor the database) and starts it again on the same data. */
  restart(
    deps?: Partial<Pick<ChainDeps, 'broadcast'>>,
    envOverrides?: Partial<ChainEnv>,
  ): Promise<ChainService>;
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
  close(): Promise<void>;
}

export async function startChainFixture(
  overrides: Record<string, string> = {},
  deps: Partial<Pick<ChainDeps, 'broadcast'>> = {},
  /** Which optional contracts to deploy (default: neither PaymentReceiver nor TestUSDC). */
  contracts: { paymentReceiver?: boolean; testToken?: boolean } = {},
): Promise<ChainFixture> {
  const [node, target] = await Promise.all([startAnvil({ port: 0 }), createTestDatabaseTarget()]);
  const folder = mkdtempSync(path.join(tmpdir(), 'symbeon-chain-'));
  const deployer = anvilDevAccounts[0];
  const deployment = await deployContracts({
    rpcUrl: node.rpcUrl,
    deployerKey: deployer.privateKey,
    issuers: [deployer.address],
    paymentReceiver: contracts.paymentReceiver ?? false,
    testToken: contracts.testToken ?? false,
  });
  const deploymentPath = path.join(folder, 'deployment.json');
  writeDeployment(deploymentPath, deployment);
  const env = parseChainEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: target.dataDir,
    ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
    CHAIN_RPC_URL: node.rpcUrl,
    CHAIN_DEPLOYMENT_PATH: deploymentPath,
    CHAIN_PORT: '0',
    CHAIN_POLL_INTERVAL_MS: '100',
    INTERNAL_AUTH_SECRET: testInternalAuthSecret,
    ...overrides,
  });
  const transport = createMemoryEventTransport();
  const logger = createLogger('chain-test', { level: 'silent' });
  const provider = new JsonRpcProvider(node.rpcUrl, deployment.chainId, {
    staticNetwork: true,
    cacheTimeout: -1,
  });
  const fixture: ChainFixture = {
    node,
    deployment,
    provider,
    env,
    transport,
    service: await startChainService({ env, logger, transport, ...deps }),
    async restart(next = {}, envOverrides = {}) {
      await fixture.service.stop();
      fixture.service = await startChainService({
        env: { ...env, ...envOverrides },
        logger,
        transport,
        ...next,
      });
      return fixture.service;
    },
    rpc: (method, params = []) => provider.send(method, params),
    async close() {
      await fixture.service.stop().catch(() => undefined);
      provider.destroy();
      await node.stop();
      await transport.close();
      await target.cleanup();
      rmSync(folder, { recursive: true, force: true });
    },
  };
  return fixture;
}

/** A fresh raw-codec CIDv1 (what certificates' metadata documents are stored as). */
export async function randomCid(): Promise<string> {
  const { digestToCid, sha256Digest } = await import('@symbeon/contracts');
  return digestToCid(await sha256Digest(randomBytes(32)));
}
