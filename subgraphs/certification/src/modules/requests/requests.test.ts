import { randomUUID } from 'node:crypto';
import { asc, eq, gt } from 'drizzle-orm';
import { createLogger, DomainError, type Principal } from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../db/schema.js';
import { certificationMigrations, createCertificationModules } from '../../service.js';
import { createKnownUsersStorage } from '../known-users/known-users-storage.js';
import type { ProgrammeRow } from '../programmes/programmes-storage.js';
import {
  ACTOR_KINDS,
  REQUEST_STATES,
  RequestEvents,
  TRANSITIONS,
  findTransition,
  type ActorKind,
  type RequestState,
  type TransitionRule,
} from './request-states.js';
import { canSeeRequest, systemActor, type Actor } from './requests-manager.js';

// The request workflow over real storage on a real database (PostgreSQL when reachable, PGlite otherwise).
let database: TestDatabase<typeof schema>;
let modules: ReturnType<typeof createCertificationModules>;
let free: ProgrammeRow;
let priced: ProgrammeRow;
let unassigned: ProgrammeRow;

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
const otherAuditor = principal(randomUUID(), ['AUDITOR']);
const system = systemActor('test-harness');

/** A fresh requester per case: one open request per person and programme. */
const newRequester = () => principal(randomUUID(), []);

function actorFor(kind: ActorKind, requester: Principal): Actor {
  switch (kind) {
    case 'REQUESTER':
      return requester;
    case 'AUDITOR':
      return auditor;
    case 'ADMIN':
      return admin;
    case 'SYSTEM':
      return system;
  }
}

const satisfiable = (rule: TransitionRule, programme: ProgrammeRow) =>
  !(rule.guards ?? []).some(
    (guard) =>
      (guard === 'priced' && programme.priceAmountMinor == null) ||
      (guard === 'free' && programme.priceAmountMinor != null),
  );

/** The shortest walk from DRAFT to `target` through the table, on this programme (guards hold). */
function pathTo(target: RequestState, programme: ProgrammeRow): TransitionRule[] | undefined {
  const queue: Array<{ state: RequestState; path: TransitionRule[] }> = [{ state: 'DRAFT', path: [] }];
  const seen = new Set<RequestState>(['DRAFT']);
  while (queue.length > 0) {
    const { state, path } = queue.shift()!;
    if (state === target) return path;
    for (const rule of TRANSITIONS.filter((item) => item.from === state && satisfiable(item, programme))) {
      if (seen.has(rule.to)) continue;
      seen.add(rule.to);
      queue.push({ state: rule.to, path: [...path, rule] });
    }
  }
  return undefined;
}

/** A request of a new requester, driven to `state` by the right actors. */
async function requestIn(state: RequestState, programme: ProgrammeRow) {
  const requester = newRequester();
  const created = await modules.requests.createRequest(requester, programme.id);
  const path = pathTo(state, programme);
  if (!path) throw new Error(`${state} is unreachable on ${programme.slug}`);
  for (const rule of path) {
    await modules.requests.transition(created.id, rule.to, {
      actor: actorFor(rule.by[0]!, requester),
      reason: 'because the test says so',
    });
  }
  return { id: created.id, requester };
}

async function snapshot(id: string) {
  const [request] = await modules.storage.requests.findByIds([id]);
  const trail = await modules.storage.requests.findTransitions([id]);
  const events = await database.db.select().from(schema.outbox);
  return {
    status: request!.status,
    trail: trail.length,
    events: events.length,
    lastEvent: Math.max(0, ...events.map((event) => event.seq)),
  };
}

async function expectRefused(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
  return error as DomainError;
}

beforeAll(async () => {
  database = await openTestDatabase({
    schemaName: 'certification',
    migrationsFolder: certificationMigrations,
    schema,
  });
  modules = createCertificationModules(database.db, createLogger('test', { level: 'silent' }));
  const knownUsers = createKnownUsersStorage(database.db);
  for (const user of [auditor, otherAuditor] as const) {
    if (user.kind === 'user') await knownUsers.remember(database.db, user.userId, user.userId.slice(0, 8));
  }
  const create = async (slug: string, extra: Record<string, unknown>) => {
    const row = await modules.programmes.createProgramme(admin, {
      slug,
      name: slug,
      description: 'Test programme',
      validityDays: 30,
      ...extra,
    });
    return modules.programmes.publishProgramme(admin, row.id);
  };
  const auditorId = (auditor as { userId: string }).userId;
  const otherAuditorId = (otherAuditor as { userId: string }).userId;
  free = await create('free', { auditorIds: [auditorId] });
  priced = await create('priced', { auditorIds: [auditorId], price: { amountMinor: 4900, currency: 'EUR' } });
  unassigned = await create('elsewhere', { auditorIds: [otherAuditorId] });
});

afterAll(async () => {
  await database?.close();
});

describe('the transition table', () => {
  it('reaches every state from DRAFT, and names at least one actor per move', () => {
    for (const state of REQUEST_STATES) {
      expect(pathTo(state, free) ?? pathTo(state, priced), state).toBeDefined();
    }
    for (const rule of TRANSITIONS) expect(rule.by.length, `${rule.from}->${rule.to}`).toBeGreaterThan(0);
    const pairs = TRANSITIONS.map((rule) => `${rule.from}->${rule.to}`);
    expect(new Set(pairs).size).toBe(pairs.length);
  });
});

describe('every allowed transition', () => {
  const cases = TRANSITIONS.flatMap((rule) => rule.by.map((kind) => ({ rule, kind })));

  it.each(cases.map(({ rule, kind }) => [`${rule.from} -> ${rule.to} by ${kind}`, rule, kind] as const))(
    '%s succeeds and records the trail and its events',
    async (_, rule, kind) => {
      const programme = satisfiable(rule, free) && pathTo(rule.from, free) ? free : priced;
      const { id, requester } = await requestIn(rule.from, programme);
      const before = await snapshot(id);
      const actor = actorFor(kind, requester);
      const evidence = { checks: [{ name: 'example', passed: true }] };
      const row = await modules.requests.transition(id, rule.to, { actor, reason: 'a reason', evidence });
      expect(row.status).toBe(rule.to);
      const trail = await modules.storage.requests.findTransitions([id]);
      expect(trail).toHaveLength(before.trail + 1);
      expect(trail.at(-1)).toMatchObject({
        fromStatus: rule.from,
        toStatus: rule.to,
        actorKind: kind,
        actorId: kind === 'SYSTEM' ? null : (actor as { userId: string }).userId,
        actorName: kind === 'SYSTEM' ? 'test-harness' : null,
        reason: 'a reason',
        evidence,
      });
      const events = await database.db
        .select()
        .from(schema.outbox)
        .where(gt(schema.outbox.seq, before.lastEvent))
        .orderBy(asc(schema.outbox.seq));
      const mine = events.filter((event) => (event.payload as { requestId: string }).requestId === id);
      expect(mine.map((event) => event.type)).toEqual([
        RequestEvents.Transitioned,
        ...(rule.announces ? [rule.announces] : []),
      ]);
      expect(mine[0]!.payload).toMatchObject({ from: rule.from, to: rule.to, actorKind: kind });
    },
  );
});

describe('refusals change nothing', () => {
  const wrongActors = TRANSITIONS.flatMap((rule) =>
    ACTOR_KINDS.filter((kind) => !rule.by.includes(kind)).map((kind) => ({ rule, kind })),
  );

  it.each(
    wrongActors.map(({ rule, kind }) => [`${rule.from} -> ${rule.to} by ${kind}`, rule, kind] as const),
  )('%s is FORBIDDEN', async (_, rule, kind) => {
    const programme = satisfiable(rule, free) && pathTo(rule.from, free) ? free : priced;
    const { id, requester } = await requestIn(rule.from, programme);
    const before = await snapshot(id);
    const error = await expectRefused(
      modules.requests.transition(id, rule.to, { actor: actorFor(kind, requester), reason: 'x' }),
      kind === 'AUDITOR' && rule.from === 'DRAFT' ? 'NOT_FOUND' : 'FORBIDDEN',
    );
    expect(error.message).toMatch(/Only |No certification request/);
    expect(await snapshot(id)).toEqual(before);
  });

  it('refuses every move the table lacks with INVALID_TRANSITION naming from and to', async () => {
    const { id } = await requestIn('SUBMITTED', free);
    const before = await snapshot(id);
    for (const to of REQUEST_STATES.filter((state) => !findTransition('SUBMITTED', state))) {
      for (const actor of [admin, system]) {
        const error = await expectRefused(
          modules.requests.transition(id, to, { actor }),
          'INVALID_TRANSITION',
        );
        expect(error.message).toContain(`from SUBMITTED to ${to}`);
      }
    }
    expect(await snapshot(id)).toEqual(before);
    const cancelled = await requestIn('CANCELLED', free);
    const final = await expectRefused(
      modules.requests.transition(cancelled.id, 'SUBMITTED', { actor: cancelled.requester }),
      'INVALID_TRANSITION',
    );
    expect(final.message).toContain('CANCELLED is final');
  });

  it('needs a reason to reject, and keeps auditors off other programmes and their own requests', async () => {
    const { id, requester } = await requestIn('AWAITING_REVIEW', free);
    const before = await snapshot(id);
    await expectRefused(modules.requests.review(auditor, id, 'REJECT', '   '), 'BAD_USER_INPUT');
    await expectRefused(modules.requests.review(otherAuditor, id, 'APPROVE'), 'NOT_FOUND');
    await expectRefused(modules.requests.review(requester, id, 'APPROVE'), 'FORBIDDEN');
    await expectRefused(modules.requests.review(newRequester(), id, 'APPROVE'), 'NOT_FOUND');
    expect(await snapshot(id)).toEqual(before);

    // An auditor asking to be certified by their own programme cannot review themselves.
    const own = await modules.requests.createRequest(auditor, free.id);
    await modules.requests.submit(auditor, own.id);
    await modules.requests.transition(own.id, 'AUDITING', { actor: system });
    await modules.requests.transition(own.id, 'AWAITING_REVIEW', { actor: system });
    await expectRefused(modules.requests.review(auditor, own.id, 'APPROVE'), 'FORBIDDEN');

    const rejected = await modules.requests.review(auditor, id, 'REJECT', 'The portfolio is empty');
    expect(rejected.status).toBe('REJECTED');
  });

  it('applies the payment gate guards for system moves', async () => {
    const freeApproved = await requestIn('APPROVED', free);
    await expectRefused(
      modules.requests.transition(freeApproved.id, 'AWAITING_PAYMENT', { actor: system }),
      'INVALID_STATE',
    );
    const pricedApproved = await requestIn('APPROVED', priced);
    await expectRefused(
      modules.requests.transition(pricedApproved.id, 'ISSUING', { actor: system }),
      'INVALID_STATE',
    );
    expect((await snapshot(pricedApproved.id)).status).toBe('APPROVED');
  });

  it('refuses unknown ids and programmes that do not accept requests', async () => {
    await expectRefused(modules.requests.submit(admin, randomUUID()), 'NOT_FOUND');
    await expectRefused(modules.requests.submit(admin, 'not-an-id'), 'NOT_FOUND');
    await expectRefused(modules.requests.createRequest(newRequester(), randomUUID()), 'NOT_FOUND');
    const draft = await modules.programmes.createProgramme(admin, {
      slug: 'not-yet',
      name: 'Not yet',
      description: 'Draft',
      validityDays: 10,
    });
    await expectRefused(modules.requests.createRequest(newRequester(), draft.id), 'NOT_FOUND');
    const archived = await modules.programmes.createProgramme(admin, {
      slug: 'gone',
      name: 'Gone',
      description: 'Archived',
      validityDays: 10,
    });
    await modules.programmes.archiveProgramme(admin, archived.id);
    await expectRefused(modules.requests.createRequest(newRequester(), archived.id), 'INVALID_STATE');
  });
});

describe('one open request per person and programme', () => {
  it('refuses a second open request, allows one per programme, and a new one once the first ended', async () => {
    const requester = newRequester();
    const first = await modules.requests.createRequest(requester, free.id);
    await expectRefused(modules.requests.createRequest(requester, free.id), 'CONFLICT');
    await modules.requests.createRequest(requester, priced.id);
    await modules.requests.cancel(requester, first.id, 'changed my mind');
    const second = await modules.requests.createRequest(requester, free.id);
    expect(second.id).not.toBe(first.id);
  });

  it('lets exactly one of many concurrent creations through', async () => {
    const requester = newRequester();
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => modules.requests.createRequest(requester, unassigned.id)),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results.filter((item) => item.status === 'rejected')) {
      expect(result.reason).toMatchObject({ code: 'CONFLICT' });
    }
  });
});

describe('optimistic concurrency', () => {
  it('applies exactly one of several transitions racing from the same state', async () => {
    const { id, requester } = await requestIn('SUBMITTED', free);
    const before = await snapshot(id);
    const results = await Promise.allSettled([
      ...Array.from({ length: 4 }, () => modules.requests.transition(id, 'AUDITING', { actor: system })),
      ...Array.from({ length: 4 }, () => modules.requests.cancel(requester, id, 'racing')),
    ]);
    const won = results.filter((result) => result.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const result of results.filter((item) => item.status === 'rejected')) {
      // Read before the winner committed: CONFLICT; after: the winner's status has no such move.
      expect(['CONFLICT', 'INVALID_TRANSITION']).toContain((result.reason as DomainError).code);
    }
    const after = await snapshot(id);
    expect(after.trail).toBe(before.trail + 1);
    const transitioned = (await database.db.select().from(schema.outbox)).filter(
      (event) =>
        event.type === RequestEvents.Transitioned &&
        (event.payload as { requestId: string; from: string }).requestId === id &&
        (event.payload as { from: string }).from === 'SUBMITTED',
    );
    expect(transitioned).toHaveLength(1);
  });

  it('writes nothing when the request is no longer in the expected state (UPDATE ... WHERE status = from)', async () => {
    const { id } = await requestIn('SUBMITTED', free);
    const stale = {
      requestId: id,
      from: 'SUBMITTED' as const,
      to: 'AUDITING' as const,
      actor: { kind: 'SYSTEM' as const, id: null, name: 'a' },
      reason: null,
      evidence: null,
      announce: [],
    };
    const [a, b] = await Promise.all([
      modules.storage.requests.applyTransition(stale),
      modules.storage.requests.applyTransition({ ...stale, to: 'CANCELLED' }),
    ]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    const before = await snapshot(id);
    expect(await modules.storage.requests.applyTransition(stale)).toBeUndefined();
    expect(await snapshot(id)).toEqual(before);
  });
});

describe('reading requests', () => {
  it('shows a request to its requester, admins and (once submitted) its assigned auditors only', async () => {
    const requester = newRequester();
    const row = await modules.requests.createRequest(requester, free.id);
    const auditorIds = [(auditor as { userId: string }).userId];
    expect(canSeeRequest(requester, row, auditorIds)).toBe(true);
    expect(canSeeRequest(admin, row, auditorIds)).toBe(true);
    expect(canSeeRequest(auditor, row, auditorIds)).toBe(false);
    const submitted = await modules.requests.submit(requester, row.id);
    expect(canSeeRequest(auditor, submitted, auditorIds)).toBe(true);
    expect(canSeeRequest(otherAuditor, submitted, auditorIds)).toBe(false);
    expect(canSeeRequest(newRequester(), submitted, auditorIds)).toBe(false);
    expect(canSeeRequest({ kind: 'anonymous' }, submitted, auditorIds)).toBe(false);
    // An assignment without the AUDITOR role (revoked since) does not count.
    expect(canSeeRequest(principal((auditor as { userId: string }).userId, []), submitted, auditorIds)).toBe(
      false,
    );
  });

  it("pages a requester's requests newest first", async () => {
    const requester = newRequester();
    const a = await modules.requests.createRequest(requester, free.id);
    const b = await modules.requests.createRequest(requester, priced.id);
    const c = await modules.requests.createRequest(requester, unassigned.id);
    const first = await modules.requests.listMine(requester, { first: 2 });
    const second = await modules.requests.listMine(requester, { first: 2, after: first.pageInfo.endCursor });
    expect([...first.edges, ...second.edges].map((edge) => edge.node.id)).toEqual([c.id, b.id, a.id]);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  it('queues only requests AWAITING_REVIEW on the auditor’s programmes, longest waiting first', async () => {
    const queued = async (who: Principal) => {
      const ids: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page = await modules.requests.reviewQueue(who, { first: 3, after });
        ids.push(...page.edges.map((edge) => edge.node.id));
        if (!page.pageInfo.hasNextPage) return ids;
        after = page.pageInfo.endCursor;
      }
    };
    const before = await queued(auditor);
    const submitted = await requestIn('SUBMITTED', free);
    const waiting = [await requestIn('AWAITING_REVIEW', free), await requestIn('AWAITING_REVIEW', priced)];
    const elsewhere = await requestIn('AWAITING_REVIEW', unassigned);
    const mine = await queued(auditor);
    expect(mine.slice(before.length)).toEqual(waiting.map((item) => item.id));
    expect(mine).not.toContain(submitted.id);
    expect(mine).not.toContain(elsewhere.id);
    expect(await queued(otherAuditor)).toContain(elsewhere.id);
    await expectRefused(modules.requests.reviewQueue(newRequester(), {}), 'FORBIDDEN');
    const rows = await database.db
      .select()
      .from(schema.certificationRequests)
      .where(eq(schema.certificationRequests.id, waiting[0]!.id));
    expect(rows[0]?.status).toBe('AWAITING_REVIEW');
  });
});
