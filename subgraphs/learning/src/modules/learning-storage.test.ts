import { randomUUID } from 'node:crypto';
import type { Principal } from '@symbeon/kernel';
import { openTestDatabase, type TestDatabase } from '@symbeon/kernel/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../db/schema.js';
import { learningMigrations } from '../service.js';
import { createCoursesManager } from './courses/courses-manager.js';
import { createCoursesStorage } from './courses/courses-storage.js';
import { createEnrollmentsManager } from './enrollments/enrollments-manager.js';
import { createEnrollmentsStorage } from './enrollments/enrollments-storage.js';
import { createEventsManager } from './events/events-manager.js';
import { createEventsStorage } from './events/events-storage.js';
import { createKnownUsersStorage } from './known-users/known-users-storage.js';

// Managers over real storage on a real database (PostgreSQL when reachable, PGlite otherwise).
let database: TestDatabase<typeof schema>;
let managers: ReturnType<typeof build>;
const instructor = randomUUID();
const learner = randomUUID();
const learnerPrincipal: Principal = {
  kind: 'user',
  userId: learner,
  sessionId: randomUUID(),
  roles: ['MEMBER'],
  scopes: [],
  tier: 'FREE',
};

function build(db: TestDatabase<typeof schema>['db']) {
  const knownUsers = createKnownUsersStorage(db);
  const courses = createCoursesStorage(db);
  const events = createEventsStorage(db);
  const enrollments = createEnrollmentsStorage(db);
  return {
    knownUsers,
    db,
    courses: createCoursesManager(courses, knownUsers),
    events: createEventsManager(events, knownUsers),
    enrollments: createEnrollmentsManager(enrollments, courses, knownUsers),
  };
}

const course = (slug: string, extra: Record<string, unknown> = {}) => ({
  slug,
  title: `Course ${slug}`,
  summary: 'A summary',
  level: 'BEGINNER',
  durationMinutes: 60,
  instructorId: instructor,
  ...extra,
});

beforeAll(async () => {
  database = await openTestDatabase({ schemaName: 'learning', migrationsFolder: learningMigrations, schema });
  managers = build(database.db);
  await managers.knownUsers.remember(database.db, instructor, 'teacher');
  await managers.knownUsers.remember(database.db, learner, 'learner');
});

afterAll(async () => {
  await database?.close();
});

describe('courses', () => {
  it('pages through 25 courses newest first without gaps or repeats, with filters applied', async () => {
    const created: string[] = [];
    for (let index = 0; index < 25; index += 1) {
      const row = await managers.courses.createCourse(
        course(`paging-${index}`, {
          level: index % 2 ? 'ADVANCED' : 'BEGINNER',
          tags: index % 5 === 0 ? ['Five'] : [],
        }),
      );
      await managers.courses.publishCourse(row.id);
      created.push(row.slug);
    }
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = await managers.courses.listCourses(
        { first: 7, after, filter: { search: 'paging' } },
        true,
      );
      seen.push(...page.edges.map((edge) => edge.node.slug));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual([...created].reverse());
    const advanced = await managers.courses.listCourses(
      {
        first: 100,
        filter: { search: 'paging', level: 'ADVANCED' },
      },
      true,
    );
    expect(advanced.edges).toHaveLength(12);
    const tagged = await managers.courses.listCourses({ first: 100, filter: { tag: 'five' } }, true);
    expect(tagged.edges.map((edge) => edge.node.slug).sort()).toEqual([
      'paging-0',
      'paging-10',
      'paging-15',
      'paging-20',
      'paging-5',
    ]);
  });

  it('treats LIKE wildcards in a search as plain text', async () => {
    const row = await managers.courses.createCourse(course('percent', { title: '100% Solidity' }));
    await managers.courses.publishCourse(row.id);
    const hits = await managers.courses.listCourses({ first: 100, filter: { search: '100%' } }, true);
    expect(hits.edges.map((edge) => edge.node.slug)).toEqual(['percent']);
    const none = await managers.courses.listCourses({ first: 100, filter: { search: '_00' } }, true);
    expect(none.edges).toHaveLength(0);
  });

  it('shows drafts only to those who may write the catalogue', async () => {
    const draft = await managers.courses.createCourse(course('hidden-draft'));
    expect(await managers.courses.findCourse({ id: draft.id }, false)).toBeNull();
    expect((await managers.courses.findCourse({ id: draft.id }, true))?.slug).toBe('hidden-draft');
    await expect(
      managers.courses.listCourses({ first: 5, filter: { status: 'DRAFT' } }, false),
    ).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
  });

  it('lists drafts only when asked', async () => {
    await managers.courses.createCourse(course('a-draft'));
    const published = await managers.courses.listCourses({ first: 100 }, true);
    expect(published.edges.map((edge) => edge.node.slug)).not.toContain('a-draft');
    const drafts = await managers.courses.listCourses({ first: 100, filter: { status: 'DRAFT' } }, true);
    expect(drafts.edges.map((edge) => edge.node.slug)).toEqual(['a-draft', 'hidden-draft']);
  });

  it('updates only the fields given and refuses a taken slug without changing anything', async () => {
    const row = await managers.courses.createCourse(course('to-update'));
    const updated = await managers.courses.updateCourse(row.id, { title: 'Renamed', summary: null });
    expect(updated).toMatchObject({ title: 'Renamed', summary: 'A summary', slug: 'to-update' });
    await expect(
      managers.courses.updateCourse(row.id, { slug: 'paging-1', title: 'Other' }),
    ).rejects.toMatchObject({
      code: 'CONFLICT',
      field: 'input.slug',
    });
    expect((await managers.courses.findCourse({ id: row.id }, true))?.title).toBe('Renamed');
    await expect(managers.courses.updateCourse(row.id, {})).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    await expect(managers.courses.updateCourse(randomUUID(), { title: 'x' })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('finds by id or slug, and refuses ambiguous lookups', async () => {
    const row = await managers.courses.createCourse(course('findable'));
    expect((await managers.courses.findCourse({ slug: 'FINDABLE' }, true))?.id).toBe(row.id);
    expect(await managers.courses.findCourse({ id: 'not-a-uuid' }, true)).toBeNull();
    await expect(managers.courses.findCourse({ id: row.id, slug: 'findable' }, true)).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
  });
});

describe('events', () => {
  const soon = (hours: number) => new Date(Date.now() + hours * 3600_000);

  it('validates the whole event: times, venue, capacity', async () => {
    const base = {
      title: 'Event',
      kind: 'WEBINAR' as const,
      capacity: 10,
      onlineUrl: 'https://meet.example/x',
    };
    await expect(
      managers.events.createEvent({ ...base, startsAt: soon(2), endsAt: soon(1) }),
    ).rejects.toMatchObject({
      field: 'input.endsAt',
    });
    await expect(
      managers.events.createEvent({ ...base, startsAt: soon(1), endsAt: soon(2), location: 'Both' }),
    ).rejects.toMatchObject({ field: 'input.location' });
    await expect(
      managers.events.createEvent({ ...base, startsAt: soon(-2), endsAt: soon(1) }),
    ).rejects.toMatchObject({
      field: 'input.startsAt',
    });
    await expect(
      managers.events.createEvent({
        ...base,
        onlineUrl: 'http://insecure.example',
        startsAt: soon(1),
        endsAt: soon(2),
      }),
    ).rejects.toMatchObject({ field: 'input.onlineUrl' });
  });

  it('switches venue on update and never lowers capacity under the seats taken', async () => {
    const event = await managers.events.createEvent({
      title: 'Switch',
      kind: 'WORKSHOP',
      startsAt: soon(1),
      endsAt: soon(2),
      location: 'Hall',
      capacity: 3,
    });
    await managers.events.publishEvent(event.id);
    await managers.events.register(event.id, learner);
    await managers.events.register(event.id, instructor);
    await expect(managers.events.updateEvent(event.id, { capacity: 1 })).rejects.toMatchObject({
      field: 'input.capacity',
    });
    const online = await managers.events.updateEvent(event.id, {
      location: null,
      onlineUrl: 'https://meet.example/switch',
    });
    expect(online).toMatchObject({ location: null, onlineUrl: 'https://meet.example/switch', seatsTaken: 2 });
    await expect(managers.events.register(event.id, learner)).rejects.toMatchObject({ code: 'CONFLICT' });
    const after = await managers.events.findEvent(event.id, true);
    expect(after?.seatsTaken).toBe(2);
  });

  it('lists upcoming events soonest first with keyset paging', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 5; index += 1) {
      const event = await managers.events.createEvent({
        title: `Paged ${index}`,
        kind: 'WEBINAR',
        startsAt: soon(100 + (5 - index)),
        endsAt: soon(101 + (5 - index)),
        onlineUrl: 'https://meet.example/paged',
        capacity: 5,
      });
      await managers.events.publishEvent(event.id);
      ids.push(event.id);
    }
    const from = soon(99);
    const first = await managers.events.listEvents({ first: 3, filter: { from } }, true);
    const second = await managers.events.listEvents(
      {
        first: 3,
        after: first.pageInfo.endCursor,
        filter: { from },
      },
      true,
    );
    const order = [...first.edges, ...second.edges].map((edge) => edge.node.id);
    expect(order).toEqual([...ids].reverse());
    expect(second.pageInfo.hasNextPage).toBe(false);
  });
});

describe('enrolments', () => {
  it('moves progress forward only and completes at 100 with an announcement in the outbox', async () => {
    const row = await managers.courses.createCourse(course('enrol-me'));
    await managers.courses.publishCourse(row.id);
    const enrollment = await managers.enrollments.enroll(row.id, learner);
    await managers.enrollments.recordProgress(enrollment.id, 40, learnerPrincipal);
    await expect(
      managers.enrollments.recordProgress(enrollment.id, 30, learnerPrincipal),
    ).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
    });
    await expect(
      managers.enrollments.recordProgress(enrollment.id, 101, learnerPrincipal),
    ).rejects.toMatchObject({
      field: 'progress',
    });
    const done = await managers.enrollments.recordProgress(enrollment.id, 100, learnerPrincipal);
    expect(done).toMatchObject({ status: 'COMPLETED', progress: 100 });
    const events = await database.db.select().from(schema.outbox);
    expect(
      events.filter((event) => event.type === 'learning.EnrollmentCompleted').map((event) => event.payload),
    ).toContainEqual(
      expect.objectContaining({ enrollmentId: enrollment.id, userId: learner, courseId: row.id }),
    );
  });

  it('lets only the learner (or an administrator) record progress', async () => {
    const row = await managers.courses.createCourse(course('someone-elses'));
    await managers.courses.publishCourse(row.id);
    const enrollment = await managers.enrollments.enroll(row.id, learner);
    const stranger: Principal = { ...learnerPrincipal, userId: randomUUID() };
    await expect(managers.enrollments.recordProgress(enrollment.id, 10, stranger)).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    const admin: Principal = { ...stranger, roles: ['MEMBER', 'ADMIN'] };
    expect((await managers.enrollments.recordProgress(enrollment.id, 10, admin)).progress).toBe(10);
  });

  it('refuses unknown learners and courses', async () => {
    const row = await managers.courses.createCourse(course('unknown-learner'));
    await managers.courses.publishCourse(row.id);
    await expect(managers.enrollments.enroll(row.id, randomUUID())).rejects.toMatchObject({
      code: 'NOT_FOUND',
      field: 'userId',
    });
    await expect(managers.enrollments.enroll(randomUUID(), learner)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      field: 'courseId',
    });
  });
});
