import { parseGatewayEnv, startGateway, type Gateway } from '@symbeon/gateway';
import { parseIdentityEnv, startIdentity, type IdentityService } from '@symbeon/identity';
import { parseLearningEnv, startLearning, type LearningService } from '@symbeon/learning';
import {
  createMemoryCache,
  createMemoryEventTransport,
  type Cache,
  type EventTransport,
} from '@symbeon/kernel';
import { createTestDatabaseTarget } from '@symbeon/kernel/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// DataLoaders everywhere: how many SQL statements a request costs, whatever the number of rows.
const logger = pino({ level: 'silent' });
const statements = { identity: [] as string[], learning: [] as string[] };
let target: Awaited<ReturnType<typeof createTestDatabaseTarget>>;
let transport: EventTransport;
let authCache: Cache;
let identity: IdentityService;
let learning: LearningService;
let gateway: Gateway;

/** Statements that read or write domain tables (the outbox relay's polling is left out). */
function domainStatements(list: string[]) {
  return list.filter((sql) => !/"(outbox|processed_events)"/.test(sql));
}

/** An administrator's access token: enrolments are visible to their owner and administrators only. */
let adminToken: string;

async function query(text: string) {
  statements.identity.length = 0;
  statements.learning.length = 0;
  const response = await fetch(`${gateway.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ query: text }),
  });
  const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return {
    data: body.data!,
    identity: domainStatements(statements.identity),
    learning: domainStatements(statements.learning),
  };
}

beforeAll(async () => {
  target = await createTestDatabaseTarget();
  const source = {
    DATA_DIR: target.dataDir,
    DATABASE_URL: target.databaseUrl,
    IDENTITY_PORT: '0',
    LEARNING_PORT: '0',
    PORT: '0',
  };
  transport = createMemoryEventTransport();
  authCache = createMemoryCache();
  identity = await startIdentity({
    env: parseIdentityEnv(source),
    logger,
    transport,
    cache: authCache,
    onQuery: (sql) => statements.identity.push(sql),
  });
  learning = await startLearning({
    env: parseLearningEnv(source),
    logger,
    transport,
    onQuery: (sql) => statements.learning.push(sql),
  });
  const instructors = [];
  for (let index = 0; index < 20; index += 1) {
    instructors.push(
      await identity.users.createUser({ handle: `teacher-${index}`, displayName: `Teacher ${index}` }),
    );
  }
  await learning.waitForUsers(instructors.map((user) => user.id));
  for (let index = 0; index < 100; index += 1) {
    const course = await learning.modules.courses.createCourse({
      slug: `course-${index}`,
      title: `Course ${index}`,
      summary: 'x',
      level: 'BEGINNER',
      durationMinutes: 10,
      instructorId: instructors[index % instructors.length]!.id,
    });
    await learning.modules.courses.publishCourse(course.id);
  }
  const admin = await identity.users.createUser({ handle: 'budget-admin', displayName: 'Admin' });
  await identity.roles.bootstrap(admin.id, ['ADMIN'], 'test');
  adminToken = (await identity.sessions.startSession(admin.id, { method: 'TEST' })).accessToken;
  gateway = await startGateway({
    env: {
      ...parseGatewayEnv(source),
      subgraphUrls: { identity: `${identity.url}/graphql`, learning: `${learning.url}/graphql` },
    },
    logger,
    cache: authCache,
  });
  // The gateway fetches identity's JWKS on the first authenticated request: not part of any budget below.
  await query('{ __typename }');
});

afterAll(async () => {
  await gateway?.stop();
  await learning?.stop();
  await identity?.stop();
  await transport?.close();
  await authCache?.close();
  await target?.cleanup();
});

describe('SQL statements per request', () => {
  it('100 courses with their instructors: one statement in each subgraph', async () => {
    const result = await query(
      '{ courses(first: 100) { edges { node { title instructor { displayName handle } } } } }',
    );
    expect(result.data.courses.edges).toHaveLength(100);
    expect(
      result.data.courses.edges.every((edge: any) => edge.node.instructor.displayName.startsWith('Teacher')),
    ).toBe(true);
    expect(result.learning).toHaveLength(1);
    expect(result.identity).toHaveLength(1);
  });

  it("100 courses, their instructors and each instructor's courses: still bounded", async () => {
    const result = await query(
      '{ courses(first: 100) { edges { node { instructor { displayName coursesTaught { slug } enrollments { id } } } } } }',
    );
    expect(result.data.courses.edges[0].node.instructor.coursesTaught).toHaveLength(5);
    // The page, then one batch for coursesTaught and one for enrollments across all 20 instructors.
    expect(result.learning).toHaveLength(3);
    expect(result.identity).toHaveLength(1);
  });
});
