import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANONYMOUS, INTERNAL_TOKEN_HEADER, signInternalToken } from '@symbeon/kernel';
import {
  devKeys,
  internalAuthSecret,
  signIn,
  startProcess,
  startTestStack,
  type TestStack,
} from '../kit/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
});

/** Signs in again after each restart: sessions survive it, but the test should not depend on that here. */
async function snapshot() {
  const writer = await signIn(stack.graphql, devKeys.ada);
  const response = await stack.graphql(
    '{ courses(first: 100, filter: { status: ANY }) { edges { node { slug title } } } events(first: 100, filter: { status: ANY }) { edges { node { title } } } }',
    undefined,
    writer.headers,
  );
  return {
    courses: response.body
      .data!.courses.edges.map((edge: any) => `${edge.node.slug}:${edge.node.title}`)
      .sort(),
    events: response.body.data!.events.edges.map((edge: any) => edge.node.title).sort(),
  };
}

describe('restarting the stack', () => {
  it('shuts down cleanly, keeps what users wrote, and does not seed twice', async () => {
    const ada = await stack.graphql('{ user(handle: "ada") { id } }');
    const created = await stack.graphql(
      'mutation($input: CreateCourseInput!) { createCourse(input: $input) { ok course { id } } }',
      {
        input: {
          slug: 'written-before-restart',
          title: 'Kept',
          summary: 'Written before a restart',
          level: 'BEGINNER',
          durationMinutes: 5,
          instructorId: ada.body.data!.user.id,
        },
      },
      (await signIn(stack.graphql, devKeys.ada)).headers,
    );
    expect(created.body.data!.createCourse.ok).toBe(true);
    const before = await snapshot();

    const exitCode = await stack.restart();
    expect(exitCode).toBe(0);

    const after = await snapshot();
    expect(after).toEqual(before);
    expect(after.courses).toContain('written-before-restart:Kept');
  });

  // The lock guards PGlite's folder; with PostgreSQL any number of processes may share the database.
  it.runIf(!process.env.DATABASE_URL)(
    'refuses a second process on the same embedded data folder',
    async () => {
      const second = startProcess('stack/src/index.ts', { ...stack.env, SEED_DEMO_DATA: 'false' });
      await second.waitFor(/in use by process \d+/);
      expect(await second.stop()).not.toBe(0);
    },
  );
});

describe('a subgraph on its own', () => {
  it('starts with its own start script and serves its schema', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'symbeon-alone-'));
    const identity = startProcess('subgraphs/identity/src/index.ts', {
      DATA_DIR: dataDir,
      DATABASE_URL: stack.env.DATABASE_URL ?? '',
      REDIS_URL: '',
      IDENTITY_PORT: '0',
      LOG_LEVEL: 'info',
    });
    try {
      const [, url] = await identity.waitFor(/"url":"(http:\/\/[^"]+)","msg":"identity listening"/, 110_000);
      expect((await fetch(`${url}/ready`)).status).toBe(200);
      // As the gateway would call it: the kit gives every process it starts the same INTERNAL_AUTH_SECRET.
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [INTERNAL_TOKEN_HEADER]: await signInternalToken(internalAuthSecret, ANONYMOUS, 'restart-test'),
        },
        body: JSON.stringify({ query: '{ user(handle: "ada") { displayName } }' }),
      });
      const body = (await response.json()) as { data: { user: { displayName: string } | null } };
      // On PostgreSQL it shares the stack's database; on PGlite it has a fresh one.
      expect(body.data.user === null || body.data.user.displayName === 'Ada Lovelace').toBe(true);
      expect(await identity.stop()).toBe(0);
    } finally {
      await identity.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
