import { randomUUID } from 'node:crypto';
import {
  createLogger,
  createMemoryEventTransport,
  startOutboxRelay,
  type EventTransport,
  type Principal,
  type Subscription,
} from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { certificationMigrations, createCertificationModules } from '../../service.js';
import { createKnownUsersStorage } from '../known-users/known-users-storage.js';
import type { ProgrammeRow } from '../programmes/programmes-storage.js';
import { systemActor } from '../requests/requests-manager.js';
import { consumePaymentEvents, PaymentSettled } from './payment-gate-consumer.js';

// The payment gate over a real database and the in-process bus. payments is played by the test: it publishes
// PaymentSettled in the shape the payments subgraph's outbox does (that side is tested in subgraphs/payments).
let database: TestDatabase<typeof schema>;
let modules: ReturnType<typeof createCertificationModules>;
let transport: EventTransport;
let consumer: Subscription;
let relay: ReturnType<typeof startOutboxRelay>;
let priced: ProgrammeRow;
let other: ProgrammeRow;

const principal = (userId: string, roles: string[]): Principal => ({
  kind: 'user',
  userId,
  sessionId: randomUUID(),
  roles: ['MEMBER', ...roles],
  scopes: [],
  tier: 'FREE',
});
const admin = principal(randomUUID(), ['ADMIN']);
const auditor = principal(randomUUID(), ['AUDITOR']);
const audit = systemActor('test-audit');
const gate = systemActor('test-gate');

async function until<T>(probe: () => Promise<T | undefined | null | false>, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const statusOf = async (requestId: string) =>
  (await modules.storage.requests.findByIds([requestId]))[0]!.status;

/** A request approved by its auditor, moved to the gate (what issuance's half of the gate does). */
async function requestAt(
  programme: ProgrammeRow,
  stop: 'AWAITING_REVIEW' | 'AWAITING_PAYMENT',
  requester = principal(randomUUID(), []),
) {
  const request = await modules.requests.createRequest(requester, programme.id);
  await modules.requests.submit(requester, request.id);
  await modules.requests.transition(request.id, 'AUDITING', { actor: audit });
  await modules.requests.transition(request.id, 'AWAITING_REVIEW', { actor: audit });
  if (stop === 'AWAITING_PAYMENT') await toGate(request.id);
  return { requestId: request.id, userId: (requester as { userId: string }).userId, requester };
}

async function toGate(requestId: string) {
  await modules.requests.review(auditor, requestId, 'APPROVE', 'fine');
  await modules.requests.transition(requestId, 'AWAITING_PAYMENT', { actor: gate });
}

function settle(
  buyerId: string,
  programmeId: string,
  options: { orderId?: string; eventId?: string; type?: string } = {},
) {
  const orderId = options.orderId ?? randomUUID();
  return transport
    .publish({
      id: options.eventId ?? randomUUID(),
      type: PaymentSettled,
      occurredAt: new Date().toISOString(),
      payload: {
        orderId,
        buyerId,
        item: { type: options.type ?? 'programme', id: programmeId },
        amountMinor: '4900',
        currency: 'EUR',
        provider: 'STRIPE',
        settledAt: new Date().toISOString(),
      },
    })
    .then(() => orderId);
}

const paymentRows = (orderId: string) =>
  database.db
    .select()
    .from(schema.settledPayments)
    .then((rows) => rows.filter((row) => row.orderId === orderId));

beforeAll(async () => {
  database = await openTestDatabase({
    schemaName: 'certification',
    migrationsFolder: certificationMigrations,
    schema,
  });
  const logger = createLogger('test', { level: 'silent' });
  modules = createCertificationModules(database.db, logger);
  transport = createMemoryEventTransport();
  consumer = await consumePaymentEvents(database.db, transport, logger);
  relay = startOutboxRelay({
    db: database.db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport,
    logger,
    pollMs: 20,
  });
  await createKnownUsersStorage(database.db).remember(
    database.db,
    (auditor as { userId: string }).userId,
    'auditor',
  );
  const create = async (slug: string) => {
    const row = await modules.programmes.createProgramme(admin, {
      slug,
      name: slug,
      description: 'Priced programme',
      validityDays: 365,
      auditorIds: [(auditor as { userId: string }).userId],
      price: { amountMinor: 4900, currency: 'EUR' },
    });
    return modules.programmes.publishProgramme(admin, row.id);
  };
  priced = await create('gate-priced');
  other = await create('gate-other');
}, 60_000);

afterAll(async () => {
  await consumer?.close();
  await relay?.close();
  await transport?.close();
  await database?.close();
});

describe('payment gate', () => {
  it('lets a request waiting for payment go on to ISSUING when its payment settles, with the order in the trail', async () => {
    const { requestId, userId } = await requestAt(priced, 'AWAITING_PAYMENT');
    const orderId = await settle(userId, priced.id);
    await until(async () => (await statusOf(requestId)) === 'ISSUING', 'the payment gate');
    const trail = await modules.storage.requests.findTransitions([requestId]);
    expect(trail.at(-1)).toMatchObject({
      fromStatus: 'AWAITING_PAYMENT',
      toStatus: 'ISSUING',
      actorKind: 'SYSTEM',
      reason: 'payment settled',
      evidence: expect.objectContaining({ orderId, amountMinor: '4900', currency: 'EUR' }) as unknown,
    });
    expect(await paymentRows(orderId)).toEqual([expect.objectContaining({ requestId })]);
  });

  it('keeps a payment that settles before the review ends, and uses it when the request reaches the gate', async () => {
    const { requestId, userId } = await requestAt(priced, 'AWAITING_REVIEW');
    const orderId = await settle(userId, priced.id);
    await until(async () => (await paymentRows(orderId)).length === 1, 'the payment to be remembered');
    expect(await statusOf(requestId)).toBe('AWAITING_REVIEW');
    await toGate(requestId);
    await until(async () => (await statusOf(requestId)) === 'ISSUING', 'the early payment to be used');
    expect((await paymentRows(orderId))[0]?.requestId).toBe(requestId);
  });

  it('applies one payment once, however often it is delivered, and never to another buyer or programme', async () => {
    const { requestId, userId } = await requestAt(priced, 'AWAITING_PAYMENT');
    const stranger = await requestAt(priced, 'AWAITING_PAYMENT');
    const elsewhere = await requestAt(other, 'AWAITING_PAYMENT', stranger.requester);
    const orderId = randomUUID();
    // The same settlement three times (redelivery under new event ids: payments replays its outbox).
    for (let delivery = 0; delivery < 3; delivery += 1) await settle(userId, priced.id, { orderId });
    await until(async () => (await statusOf(requestId)) === 'ISSUING', 'the payment gate');
    // A course bought by the stranger opens no certification gate.
    await settle(stranger.userId, priced.id, { type: 'course' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await paymentRows(orderId)).toHaveLength(1);
    expect(await statusOf(stranger.requestId)).toBe('AWAITING_PAYMENT');
    expect(await statusOf(elsewhere.requestId)).toBe('AWAITING_PAYMENT');
    const trail = await modules.storage.requests.findTransitions([requestId]);
    expect(trail.filter((entry) => entry.toStatus === 'ISSUING')).toHaveLength(1);
  });
});
