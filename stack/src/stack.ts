import { parseGatewayEnv, startGateway, type Gateway } from '@symbeon/gateway';
import { parseIdentityEnv, startIdentity, seedIdentityDemo, type IdentityService } from '@symbeon/identity';
import { parseLearningEnv, seedLearningDemo, startLearning, type LearningService } from '@symbeon/learning';
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
};

export interface Stack {
  gateway: Gateway;
  identity: IdentityService;
  learning: LearningService;
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
  if (problems.length > 0 || !stack || !identity || !learning || !gateway) throw new EnvError(problems);
  return { stack, identity, learning, gateway };
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
    const identity = await startIdentity({
      env: env.identity,
      logger: createLogger('identity', { level }),
      transport,
      cache: authCache,
    });
    started.push(identity);
    const learning = await startLearning({
      env: env.learning,
      logger: createLogger('learning', { level }),
      transport,
    });
    started.push(learning);

    if (env.stack.SEED_DEMO_DATA ?? profile === 'embedded') {
      const users = await seedIdentityDemo(identity.wallets, identity.roles);
      await learning.waitForUsers(users.map((user) => user.id));
      const byHandle = Object.fromEntries(users.map((user) => [user.handle, user.id]));
      await seedLearningDemo(learning.modules, { ada: byHandle.ada!, grace: byHandle.grace! });
    }

    const gateway = await startGateway({
      env: {
        ...env.gateway,
        // The stack knows where it started each subgraph (ports may be overridden or ephemeral).
        subgraphUrls: {
          identity: `${identity.url}/graphql`,
          learning: `${learning.url}/graphql`,
          ...env.gateway.subgraphUrls,
        },
      },
      logger: createLogger('gateway', { level }),
      cache: authCache,
    });
    started.push(gateway);
    return { gateway, identity, learning, transport, profile, stop: stopAll };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}
