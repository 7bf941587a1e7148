import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  applyOwnershipRules,
  createContentStore,
  loadSubgraphTypeDefs,
  openDatabase,
  resolveInternalAuthSecret,
  startOutboxRelay,
  startSubgraph,
  type ContentStore,
  type EventTransport,
  type Logger,
  type Principal,
  type RunningService,
} from '@symbeon/kernel';
import { createContext, type CertificationContext, type CertificationModules } from './context.js';
import * as schema from './db/schema.js';
import { chainDeploymentPath, type CertificationEnv } from './env.js';
import { consumeBatchEvents } from './modules/batches/batches-consumer.js';
import {
  createBatchesManager,
  startBatchCloser,
  type BatchesOptions,
} from './modules/batches/batches-manager.js';
import { batchesResolvers } from './modules/batches/batches-resolvers.js';
import { createBatchesStorage } from './modules/batches/batches-storage.js';
import { certificatesResolvers } from './modules/certificates/certificates-resolvers.js';
import { consumeIssuanceEvents } from './modules/issuance/issuance-consumer.js';
import { createIssuanceManager } from './modules/issuance/issuance-manager.js';
import { issuanceResolvers, type IssuanceRetry } from './modules/issuance/issuance-resolvers.js';
import { createIssuanceStorage } from './modules/issuance/issuance-storage.js';
import { consumePaymentEvents } from './modules/payment-gate/payment-gate-consumer.js';
import { startAuditJobs } from './modules/audit/audit-consumer.js';
import { auditResolvers } from './modules/audit/audit-resolvers.js';
import { withEvidenceAndAudit, type EvidenceAuditOptions } from './modules/audit/evidence-audit-modules.js';
import { UPLOADS_PREFIX } from './modules/evidence/evidence-manager.js';
import { evidenceResolvers } from './modules/evidence/evidence-resolvers.js';
import { evidenceUploadRoute } from './modules/evidence/upload-route.js';
import { consumeUserEvents } from './modules/known-users/known-users-consumer.js';
import { createKnownUsersStorage } from './modules/known-users/known-users-storage.js';
import { consumeLifecycleEvents, startExpirySweep } from './modules/lifecycle/lifecycle-consumer.js';
import { createLifecycleManager, type LifecycleOptions } from './modules/lifecycle/lifecycle-manager.js';
import { lifecycleResolvers } from './modules/lifecycle/lifecycle-resolvers.js';
import { liveResolvers } from './modules/live/live-resolvers.js';
import { createLiveUpdates } from './modules/live/live-updates.js';
import { createRequestFeed, REQUEST_UPDATES_CHANNEL } from './modules/live/request-feed.js';
import { createProgrammesManager } from './modules/programmes/programmes-manager.js';
import { programmesResolvers } from './modules/programmes/programmes-resolvers.js';
import { createProgrammesStorage } from './modules/programmes/programmes-storage.js';
import { createRequestsManager } from './modules/requests/requests-manager.js';
import { requestsResolvers } from './modules/requests/requests-resolvers.js';
import { createRequestsStorage } from './modules/requests/requests-storage.js';
import { JSONScalar } from './modules/shared/json-scalar.js';
import { createChainReader, type ChainReader } from './modules/verification/chain-reader.js';
import { createVerificationManager } from './modules/verification/verification-manager.js';
import { verificationResolvers } from './modules/verification/verification-resolvers.js';
import { VERIFY_PREFIX, verifyPageRoute } from './modules/verification/verify-page.js';
import { certificationPermissions } from './permissions.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const certificationMigrations = path.resolve(here, '../drizzle');

export interface CertificationDeps {
  env: CertificationEnv;
  logger: Logger;
  transport: EventTransport;
  /** Default: createContentStore(env) (Kubo when IPFS_API_URL is set, else DATA_DIR/ipfs). */
  contentStore?: ContentStore;
}

/** What verification (and issuance) read besides the database: documents and the chain. */
export interface CertificationReaders {
  contents: ContentStore;
  chain: ChainReader;
  verifyConfirmations: number;
}

export interface CertificationService extends RunningService {
  modules: CertificationModules;
  /** Resolves once certification knows these identity users (events are asynchronous). */
  waitForUsers(userIds: readonly string[], timeoutMs?: number): Promise<void>;
}

/** Builds the managers over one database: what the service, the seed and the tests share. */
export function createCertificationModules(
  db: Parameters<typeof createProgrammesStorage>[0],
  logger: Logger,
  readers?: CertificationReaders,
  /** Evidence upload and audit: the content store (else `readers.contents`) and the public URL. */
  uploads: EvidenceAuditOptions = {},
  /** Revocation, renewal and expiry: the issuer, the renewal window, the clock. */
  lifecycle: Partial<Pick<LifecycleOptions, 'issuer' | 'renewalWindowDays' | 'now'>> = {},
  /** Merkle batches: the size and age at which a batch closes (CERTIFICATION_BATCH_MAX_*). */
  batching: Partial<Pick<BatchesOptions, 'maxSize' | 'maxWaitSeconds' | 'now'>> = {},
): CertificationModules {
  const storage = {
    programmes: createProgrammesStorage(db),
    requests: createRequestsStorage(db),
    certificates: createIssuanceStorage(db),
    batches: createBatchesStorage(db),
  };
  const batches = createBatchesManager({
    db,
    contents: readers?.contents ?? uploads.contents,
    logger: logger.child({ module: 'batches' }),
    maxSize: batching.maxSize ?? 64,
    maxWaitSeconds: batching.maxWaitSeconds ?? 300,
    ...(batching.now ? { now: batching.now } : {}),
  });
  const base = {
    logger,
    storage,
    programmes: createProgrammesManager(storage.programmes, createKnownUsersStorage(db)),
    requests: createRequestsManager(storage.requests, storage.programmes),
    verification: readers
      ? createVerificationManager({
          certificates: storage.certificates,
          batches: storage.batches,
          contents: readers.contents,
          chain: readers.chain,
          confirmations: readers.verifyConfirmations,
          logger,
        })
      : {
          verify: () => Promise.reject(new Error('verification needs the content store and the chain')),
          verifyBatchProof: () =>
            Promise.reject(new Error('verification needs the content store and the chain')),
        },
    batches,
    lifecycle: createLifecycleManager({
      db,
      batches,
      contents: readers?.contents ?? uploads.contents,
      chainId: () => {
        if (!readers) throw new Error('renewal needs the chain');
        return readers.chain.deployment().chainId;
      },
      issuer: lifecycle.issuer ?? { name: 'Symbeon', url: uploads.publicUrl ?? 'http://localhost:8000' },
      publicUrl: uploads.publicUrl ?? 'http://localhost:8000',
      renewalWindowDays: lifecycle.renewalWindowDays ?? 30,
      ...(lifecycle.now ? { now: lifecycle.now } : {}),
      ...(readers
        ? {
            chainTime: async () => {
              const block = await readers.chain.provider().getBlock('latest');
              return block ? new Date(block.timestamp * 1000) : undefined;
            },
          }
        : {}),
      logger: logger.child({ module: 'lifecycle' }),
    }),
  };
  return withEvidenceAndAudit(db, base, { contents: readers?.contents, ...uploads });
}

export async function startCertification(deps: CertificationDeps): Promise<CertificationService> {
  const { env, logger } = deps;
  const database = await openDatabase({
    schemaName: 'certification',
    migrationsFolder: certificationMigrations,
    schema,
    databaseUrl: env.CERTIFICATION_DATABASE_URL ?? env.DATABASE_URL,
    dataDir: env.DATA_DIR,
  });
  const contents = deps.contentStore ?? (await createContentStore(env));
  const chain = createChainReader({ rpcUrl: env.CHAIN_RPC_URL, deploymentPath: chainDeploymentPath(env) });
  const modules = createCertificationModules(
    database.db,
    logger,
    {
      contents,
      chain,
      verifyConfirmations: env.CERTIFICATION_VERIFY_CONFIRMATIONS,
    },
    { publicUrl: env.CERTIFICATION_PUBLIC_URL },
    {
      issuer: { name: env.CERTIFICATION_ISSUER_NAME, url: env.CERTIFICATION_PUBLIC_URL },
      renewalWindowDays: env.CERTIFICATION_RENEWAL_WINDOW_DAYS,
    },
    { maxSize: env.CERTIFICATION_BATCH_MAX_SIZE, maxWaitSeconds: env.CERTIFICATION_BATCH_MAX_WAIT_SECONDS },
  );
  const issuance = createIssuanceManager({
    contents,
    chainId: () => chain.deployment().chainId,
    issuer: { name: env.CERTIFICATION_ISSUER_NAME, url: env.CERTIFICATION_PUBLIC_URL },
    logger: logger.child({ module: 'issuance' }),
    batches: modules.batches,
  });
  const knownUsers = createKnownUsersStorage(database.db);
  const relay = startOutboxRelay({
    db: database.db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport: deps.transport,
    logger,
    listen: database.listen,
  });
  const userEvents = await consumeUserEvents(database.db, deps.transport);
  const auditJobs = await startAuditJobs({
    db: database.db,
    transport: deps.transport,
    env,
    audits: modules.storage.audits,
    manager: modules.audits,
    logger: logger.child({ module: 'audit' }),
  });
  const issuanceEvents = await consumeIssuanceEvents(database.db, deps.transport, issuance);
  const lifecycleEvents = await consumeLifecycleEvents(database.db, deps.transport, modules.lifecycle);
  const batchEvents = await consumeBatchEvents(database.db, deps.transport, modules.batches);
  // A batch waits at most its age limit plus one period of this check.
  const batchCloser = startBatchCloser(
    modules.batches,
    Math.min(env.CERTIFICATION_BATCH_MAX_WAIT_SECONDS, 10),
    (error) => logger.error({ err: error }, 'closing due certificate batches failed'),
  );
  const paymentEvents = await consumePaymentEvents(
    database.db,
    deps.transport,
    logger.child({ module: 'payment-gate' }),
  );
  const expirySweep = startExpirySweep(modules.lifecycle, env.CERTIFICATION_EXPIRY_SWEEP_SECONDS, (error) =>
    logger.error({ err: error }, 'expiry sweep failed'),
  );
  // Live request updates: the storage notifies after commit, whichever replica wrote.
  const feed = createRequestFeed();
  const live = createLiveUpdates({ ...modules.storage, feed });
  const unlisten = await database
    .listen(REQUEST_UPDATES_CHANNEL, (id) => feed.wake(id))
    .catch((error: unknown) => {
      logger.warn(
        { err: error },
        'cannot LISTEN for request updates; live subscriptions re-read periodically',
      );
      return undefined;
    });

  const service = await startSubgraph<
    CertificationContext & { live: ReturnType<typeof createLiveUpdates>; issuance: IssuanceRetry }
  >({
    name: 'certification',
    typeDefs: loadSubgraphTypeDefs(here),
    transformSchema: (built) => applyOwnershipRules(built, certificationPermissions),
    resolvers: [
      { JSON: JSONScalar },
      programmesResolvers,
      requestsResolvers,
      certificatesResolvers,
      verificationResolvers,
      evidenceResolvers,
      auditResolvers,
      lifecycleResolvers,
      liveResolvers,
      issuanceResolvers,
      batchesResolvers,
    ],
    port: env.CERTIFICATION_PORT,
    host: env.CERTIFICATION_HOST,
    logger,
    ready: () => database.ping(),
    internalAuthSecret: resolveInternalAuthSecret(env),
    subscriptions: true,
    // Upload URLs (createEvidenceUpload), reached through the gateway's pass-through: the token is the credential.
    prefixRoutes: {
      [UPLOADS_PREFIX]: evidenceUploadRoute(modules.evidence, logger),
      // The page behind Certificate.verificationUrl (and its QR code), through the gateway's pass-through.
      [VERIFY_PREFIX]: verifyPageRoute({
        verify: (args) => modules.verification.verify(args),
        qrCodeSvg: (id) => modules.lifecycle.verificationQrCodeSvg(id),
        programmeName: async (id) => (await modules.storage.programmes.findByIds([id]))[0]?.name,
        contentUrl: (cid) => modules.evidence.contentUrl(cid),
        logger,
      }),
    },
    context: async ({ identity, principal }) => ({
      ...createContext(modules, identity.requestId, principal),
      live,
      issuance: {
        retry: (caller: Principal, requestId: string) =>
          issuance.retryIssuance(database.db, caller, requestId),
      },
    }),
    onStop: async () => {
      await unlisten?.();
      await userEvents.close();
      await auditJobs.close();
      await issuanceEvents.close();
      await lifecycleEvents.close();
      await batchEvents.close();
      await batchCloser.close();
      await paymentEvents.close();
      await expirySweep.close();
      await relay.close();
      await database.close();
      chain.close();
      // A store handed in belongs to the caller.
      if (!deps.contentStore) await contents.close();
    },
  });

  async function waitForUsers(userIds: readonly string[], timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const known = await knownUsers.findExisting(userIds);
      if (userIds.every((id) => known.has(id))) return;
      if (Date.now() > deadline)
        throw new Error(`certification did not learn of users ${userIds.join(', ')} in time`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  return Object.assign(service, { modules, waitForUsers });
}
