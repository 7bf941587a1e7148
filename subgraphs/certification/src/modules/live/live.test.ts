import { randomBytes, randomUUID } from 'node:crypto';
import {
  createLogger,
  createMemoryEventTransport,
  INTERNAL_TOKEN_HEADER,
  openDatabase,
  signInternalToken,
  type Principal,
} from '@symbeon/kernel';
import { createTestDatabaseTarget } from '@symbeon/kernel/testing';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { parseCertificationEnv } from '../../env.js';
import * as schema from '../../db/schema.js';
import { certificationMigrations, startCertification, type CertificationService } from '../../service.js';
import { createKnownUsersStorage } from '../known-users/known-users-storage.js';
import type { ProgrammeRow } from '../programmes/programmes-storage.js';

// The subgraph as the gateway uses it: graphql-ws on /graphql with internal tokens, a real database
// (LISTEN/NOTIFY), the outbox relay and the automated audit job in process.
const secret = `certification-live-test-${randomBytes(16).toString('hex')}`;
let service: CertificationService;
let cleanup: () => Promise<void>;
let programme: ProgrammeRow;
const clients: Client[] = [];

const principal = (roles: string[] = []): Principal => ({
  kind: 'user',
  userId: randomUUID(),
  sessionId: randomUUID(),
  roles: ['MEMBER', ...roles],
  scopes: [],
  tier: 'FREE',
});
const admin = principal(['ADMIN']);
const auditor = principal(['AUDITOR']);
const assigned = principal(['AUDITOR']);
const userIdOf = (user: Principal) => (user as { userId: string }).userId;

beforeAll(async () => {
  const target = await createTestDatabaseTarget();
  cleanup = target.cleanup;
  const env = parseCertificationEnv({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: target.dataDir,
    ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
    CERTIFICATION_PORT: '0',
    INTERNAL_AUTH_SECRET: secret,
  });
  service = await startCertification({
    env,
    logger: createLogger('certification-live-test', { level: 'silent' }),
    transport: createMemoryEventTransport(),
  });
  const { modules } = service;
  // The assigned auditor, as identity's events would have made certification know them.
  const database = await openDatabase({
    schemaName: 'certification',
    migrationsFolder: certificationMigrations,
    schema,
    dataDir: target.dataDir,
    ...(target.databaseUrl ? { databaseUrl: target.databaseUrl } : {}),
  });
  await createKnownUsersStorage(database.db).remember(database.db, userIdOf(assigned), 'assigned');
  await database.close();
  const row = await modules.programmes.createProgramme(admin, {
    slug: `live-${randomUUID().slice(0, 8)}`,
    name: 'Live',
    description: 'Test programme',
    validityDays: 30,
    auditorIds: [userIdOf(assigned)],
  });
  programme = await modules.programmes.publishProgramme(admin, row.id);
}, 60_000);

afterAll(async () => {
  for (const client of clients) await client.dispose();
  await service?.stop();
  await cleanup?.();
});

function connect(as: Principal): Client {
  const client = createClient({
    url: `${service.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: async () => ({
      [INTERNAL_TOKEN_HEADER]: await signInternalToken(secret, as, 'ws'),
    }),
  });
  clients.push(client);
  return client;
}

interface Update {
  id: string;
  status: string;
  updatedAt: string;
  audit: { status: string; progress: number; checks: unknown[] } | null;
}

function subscribe(as: Principal, id: string) {
  const updates: Update[] = [];
  let end!: (outcome: { completed: boolean; error?: unknown }) => void;
  const done = new Promise<{ completed: boolean; error?: unknown }>((resolve) => (end = resolve));
  const unsubscribe = connect(as).subscribe(
    {
      query: `subscription ($id: ID!) {
        certificationRequestUpdated(id: $id) { id status updatedAt audit { status progress checks { key passed detail } } }
      }`,
      variables: { id },
    },
    {
      next: (result) => {
        const update = (result.data as { certificationRequestUpdated?: Update } | null)
          ?.certificationRequestUpdated;
        if (update) updates.push(update);
        else end({ completed: false, error: result.errors });
      },
      error: (error) => end({ completed: false, error }),
      complete: () => end({ completed: true }),
    },
  );
  return { updates, done, unsubscribe, statuses: () => updates.map((update) => update.status) };
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('Subscription.certificationRequestUpdated on the subgraph', () => {
  it('sends the current state, then every transition in order and the audit progress', async () => {
    const requester = principal();
    const request = await service.modules.requests.createRequest(requester, programme.id);
    const live = subscribe(requester, request.id);
    await until(() => live.updates.length === 1, 'the first message');
    expect(live.updates[0]).toMatchObject({ id: request.id, status: 'DRAFT', audit: null });

    // Audit progress wakes the subscription too (storage notifies after its write).
    const runId = randomUUID();
    await service.modules.storage.audits.claim(request.id, runId);
    await service.modules.storage.audits.reportProgress(request.id, runId, 40, []);
    await until(() => live.updates.some((update) => update.audit?.progress === 40), 'progress 40');
    expect(live.updates.at(-1)).toMatchObject({
      status: 'DRAFT',
      audit: { status: 'RUNNING', progress: 40 },
    });
    const before = live.updates.length;

    // Submitting starts the real audit job (through the outbox relay): SUBMITTED → AUDITING → a verdict,
    // possibly faster than one read per wake; every status still arrives, in order.
    await service.modules.requests.transition(request.id, 'SUBMITTED', { actor: requester, reason: null });
    await until(
      () => ['AWAITING_REVIEW', 'AUTO_REJECTED'].includes(live.updates.at(-1)!.status),
      'the audit verdict',
    );
    const statuses = live.statuses().slice(before);
    expect([...new Set(statuses)].slice(0, 2)).toEqual(['SUBMITTED', 'AUDITING']);
    for (let index = 1; index < live.updates.length; index++) {
      expect(JSON.stringify(live.updates[index])).not.toBe(JSON.stringify(live.updates[index - 1]));
    }
    live.unsubscribe();
  }, 30_000);

  it('refuses others, lets administrators follow, and says NOT_FOUND for unknown ids', async () => {
    const requester = principal();
    const request = await service.modules.requests.createRequest(requester, programme.id);

    const stranger = subscribe(principal(), request.id);
    const refused = await stranger.done;
    expect(refused.completed).toBe(false);
    expect(JSON.stringify(refused.error)).toContain('FORBIDDEN');
    expect(stranger.updates).toEqual([]);

    // An auditor not assigned to the programme sees nothing (the same rule as Query.certificationRequest).
    const early = await subscribe(auditor, request.id).done;
    expect(JSON.stringify(early.error)).toContain('FORBIDDEN');
    // The assigned auditor neither, while it is a DRAFT.
    const draft = await subscribe(assigned, request.id).done;
    expect(JSON.stringify(draft.error)).toContain('FORBIDDEN');

    const byAdmin = subscribe(admin, request.id);
    await until(() => byAdmin.updates.length === 1, "the admin's first message");
    await service.modules.requests.transition(request.id, 'CANCELLED', {
      actor: requester,
      reason: 'changed my mind',
    });
    await until(() => byAdmin.statuses().includes('CANCELLED'), 'CANCELLED');
    expect(byAdmin.statuses()).toEqual(['DRAFT', 'CANCELLED']);
    byAdmin.unsubscribe();

    const unknown = await subscribe(requester, randomUUID()).done;
    expect(JSON.stringify(unknown.error)).toContain('NOT_FOUND');
  }, 30_000);
});
