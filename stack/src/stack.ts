import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  parseCertificationEnv,
  seedCertificationDemo,
  startCertification,
  type CertificationService,
} from '@symbeon/certification';
import { parseChainEnv, startChain, type ChainService } from '@symbeon/chain';
import { parseGatewayEnv, startGateway, type Gateway } from '@symbeon/gateway';
import { parseIdentityEnv, startIdentity, seedIdentityDemo, type IdentityService } from '@symbeon/identity';
import { parseLearningEnv, seedLearningDemo, startLearning, type LearningService } from '@symbeon/learning';
import { parsePaymentsEnv, startPayments, type PaymentsService } from '@symbeon/payments';
import {
  createCache,
  createEventTransport,
  createLogger,
  EnvError,
  parseEnv,
  envField,
  type EventTransport,
} from '@symbeon/kernel';

export const stackEnvShape = {
  LOG_LEVEL: envField.logLevel(),
  /** Seed demo data (idempotent). On by default in the embedded profile, off with DATABASE_URL set. */
  SEED_DEMO_DATA: envField.optionalBool(),
  /**
   * Port of the local chain node (anvil) the stack starts when CHAIN_RPC_URL is unset; 0 picks a free one.
   * With CHAIN_RPC_URL set, no node is started and that one is used.
   */
  ANVIL_PORT: envField.port(8545),
};

export interface Stack {
  gateway: Gateway;
  identity: IdentityService;
  learning: LearningService;
  chain: ChainService;
  certification: CertificationService;
  payments: PaymentsService;
  /** The chain node's JSON-RPC URL (the anvil the stack started, or CHAIN_RPC_URL). */
  rpcUrl: string;
  transport: EventTransport;
  profile: 'embedded' | 'services';
  stop(): Promise<void>;
}

/** Parses every service's environment first, so all problems are reported together. */
export function parseStackEnv(source: Record<string, string | undefined> = process.env) {
  const problems: string[] = [];
  const attempt = <T>(service: string, parse: () => T): T | undefined => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof EnvError)) throw error;
      problems.push(...error.issues.map((issue) => `${service}: ${issue}`));
      return undefined;
    }
  };
  const stack = attempt('stack', () => parseEnv(stackEnvShape, source));
  const identity = attempt('identity', () => parseIdentityEnv(source));
  const learning = attempt('learning', () => parseLearningEnv(source));
  const gateway = attempt('gateway', () => parseGatewayEnv(source));
  const chain = attempt('chain', () => parseChainEnv(source));
  const certification = attempt('certification', () => parseCertificationEnv(source));
  const payments = attempt('payments', () => parsePaymentsEnv(source));
  if (
    problems.length > 0 ||
    !stack ||
    !identity ||
    !learning ||
    !gateway ||
    !chain ||
    !certification ||
    !payments
  )
    throw new EnvError(problems);
  return {
    stack,
    identity,
    learning,
    gateway,
    chain,
    certification,
    payments,
    chainNodeGiven: Boolean(source.CHAIN_RPC_URL),
  };
}

/**
 * Every service in one process: the embedded profile (PGlite, in-process bus) without DATABASE_URL and
 * REDIS_URL, the services profile with them. Services start in dependency order; the gateway comes last so
 * it is ready when it listens.
 */
export async function startStack(source: Record<string, string | undefined> = process.env): Promise<Stack> {
  const env = parseStackEnv(source);
  const level = env.stack.LOG_LEVEL;
  const profile = env.identity.DATABASE_URL || env.identity.REDIS_URL ? 'services' : 'embedded';
  // One transport for all services: in-process delivery needs them to share it.
  const transport = await createEventTransport(env.identity, 'stack');
  // One `auth` cache for identity (which records revoked sessions in it) and the gateway (which refuses
  // them): in the embedded profile it is in-process, so both must hold this very instance.
  const authCache = await createCache(env.identity, 'auth');
  const started: Array<{ stop(): Promise<void> }> = [];
  const stopAll = async () => {
    for (const service of started.reverse()) await service.stop();
    await authCache.close();
    await transport.close();
  };
  try {
    // The chain node first (anvil is ready in ~150 ms): identity needs its URL. Deploying the contracts
    // (first start only) then runs while identity and learning start.
    const node = env.chainNodeGiven
      ? { rpcUrl: env.chain.CHAIN_RPC_URL }
      : await startLocalChainNode(env.chain.DATA_DIR, env.stack.ANVIL_PORT);
    if ('stop' in node) started.push(node);
    const deployed = ensureDeployment(
      node.rpcUrl,
      env.chain.CHAIN_DEPLOYMENT_PATH,
      env.chain.CHAIN_SIGNER_KEY,
    );
    // Handled where it is awaited; this only keeps an early failure from being reported as unhandled.
    deployed.catch(() => undefined);
    // The services are independent until the demo seed: start them side by side. Each is recorded as it
    // comes up, so a failure stops exactly what started.
    const track = async <T extends { stop(): Promise<void> }>(starting: Promise<T>): Promise<T> => {
      const service = await starting;
      started.push(service);
      return service;
    };
    const settled = await Promise.allSettled([
      track(
        startIdentity({
          env: { ...env.identity, CHAIN_RPC_URL: env.identity.CHAIN_RPC_URL ?? node.rpcUrl },
          logger: createLogger('identity', { level }),
          transport,
          cache: authCache,
        }),
      ),
      track(startLearning({ env: env.learning, logger: createLogger('learning', { level }), transport })),
      track(
        startCertification({
          // Verification reads the node the stack runs (on an ephemeral port in tests).
          env: { ...env.certification, CHAIN_RPC_URL: node.rpcUrl },
          logger: createLogger('certification', { level }),
          transport,
        }),
      ),
      track(
        // After the deployment: crypto payments read the PaymentReceiver's address from its record.
        deployed.then(() =>
          startPayments({
            env: { ...env.payments, CHAIN_RPC_URL: node.rpcUrl },
            logger: createLogger('payments', { level }),
            transport,
          }),
        ),
      ),
      track(
        deployed.then(() =>
          startChain({
            env: { ...env.chain, CHAIN_RPC_URL: node.rpcUrl },
            logger: createLogger('chain', { level }),
            transport,
          }),
        ),
      ),
    ] as const);
    const failed = settled.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
    const [identity, learning, certification, payments, chain] = settled.map(
      (result) => (result as PromiseFulfilledResult<unknown>).value,
    ) as [
      Awaited<ReturnType<typeof startIdentity>>,
      Awaited<ReturnType<typeof startLearning>>,
      Awaited<ReturnType<typeof startCertification>>,
      Awaited<ReturnType<typeof startPayments>>,
      Awaited<ReturnType<typeof startChain>>,
    ];

    const seed = async () => {
      if (!(env.stack.SEED_DEMO_DATA ?? profile === 'embedded')) return;
      const users = await seedIdentityDemo(identity.wallets, identity.roles);
      const userIds = users.map((user) => user.id);
      await Promise.all([learning.waitForUsers(userIds), certification.waitForUsers(userIds)]);
      const byHandle = Object.fromEntries(users.map((user) => [user.handle, user.id]));
      await Promise.all([
        seedLearningDemo(learning.modules, { ada: byHandle.ada!, grace: byHandle.grace! }),
        // alan (anvil's dev account 2) holds the AUDITOR role; symbeon (account 0) is the administrator.
        seedCertificationDemo(certification.modules, { admin: byHandle.symbeon!, auditor: byHandle.alan! }),
      ]);
    };
    // The gateway starts while the demo data is written; the stack is ready when both are.
    const ending = await Promise.allSettled([
      seed(),
      track(
        startGateway({
          env: {
            ...env.gateway,
            // The stack knows where it started each subgraph (ports may be overridden or ephemeral).
            subgraphUrls: {
              identity: `${identity.url}/graphql`,
              learning: `${learning.url}/graphql`,
              chain: `${chain.url}/graphql`,
              certification: `${certification.url}/graphql`,
              payments: `${payments.url}/graphql`,
              ...env.gateway.subgraphUrls,
            },
          },
          logger: createLogger('gateway', { level }),
          cache: authCache,
        }),
      ),
    ]);
    const endFailure = ending.find((result) => result.status === 'rejected');
    if (endFailure) throw endFailure.reason;
    const gateway = (ending[1] as PromiseFulfilledResult<Awaited<ReturnType<typeof startGateway>>>).value;
    return {
      gateway,
      identity,
      learning,
      chain,
      certification,
      payments,
      rpcUrl: node.rpcUrl,
      transport,
      profile,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

/** anvil on 127.0.0.1, chain id 31337, its state kept in <DATA_DIR>/chain so the chain survives restarts. */
async function startLocalChainNode(dataDir: string, port: number) {
  const { startAnvil } = await import('@symbeon/kernel/anvil');
  const folder = path.join(dataDir, 'chain');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(folder, { recursive: true });
  return startAnvil({ port, chainId: 31337, stateFile: path.join(folder, 'anvil-state.json') });
}

/**
 * Deploys the contracts when the record is missing or no longer matches the node (a chain reset without
 * its state file, or changed contracts). Only on a local chain (31337), with anvil's dev account 0 (or
 * CHAIN_SIGNER_KEY) as deployer and issuer; any other chain needs its record written beforehand.
 */
async function ensureDeployment(rpcUrl: string, file: string, signerKey: string | undefined): Promise<void> {
  const [{ checkDeployment, deployContracts, readDeployment, writeDeployment }, { anvilDevAccounts }] =
    await Promise.all([import('@symbeon/contracts'), import('@symbeon/kernel/anvil')]);
  if (existsSync(file)) {
    const problems = await checkDeployment(rpcUrl, readDeployment(file)).catch((error: unknown) => [
      String(error),
    ]);
    if (problems.length === 0) return;
  }
  const response = await fetch(rpcUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
  });
  const chainId = Number(((await response.json()) as { result?: string }).result);
  if (chainId !== 31337) {
    throw new Error(
      `No valid contract deployment for chain ${chainId} at ${file}; the stack deploys only to a local chain (31337)`,
    );
  }
  const { Wallet } = await import('ethers');
  const deployerKey = signerKey ?? anvilDevAccounts[0].privateKey;
  const issuer = new Wallet(deployerKey).address;
  writeDeployment(file, await deployContracts({ rpcUrl, deployerKey, issuers: [issuer], testToken: true }));
}
