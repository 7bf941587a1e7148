import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  devKeys,
  errorCodes,
  signIn,
  startTestStack,
  type GraphQLResponse,
  type SignedIn,
  type TestStack,
} from '../kit/index.js';

// The foundation as a user meets it: `npm start`, then the API through the gateway only, signed in with
// the demo accounts' dev wallets where an operation needs it.
let stack: TestStack;
/** INSTRUCTOR: writes the catalogue. */
let ada: SignedIn;
/** A learner. */
let linus: SignedIn;
/** ADMIN: may act for other users. */
let admin: SignedIn;

beforeAll(async () => {
  stack = await startTestStack();
  [ada, linus, admin] = await Promise.all([
    signIn(stack.graphql, devKeys.ada),
    signIn(stack.graphql, devKeys.linus),
    signIn(stack.graphql, devKeys.symbeon),
  ]);
});

afterAll(async () => {
  await stack?.stop();
});

async function userId(handle: string): Promise<string> {
  const response = await stack.graphql<{ user: { id: string } }>(
    'query($h: String) { user(handle: $h) { id } }',
    { h: handle },
  );
  return response.body.data!.user.id;
}

async function catalogueSlugs(): Promise<string[]> {
  const response = await stack.graphql<{ courses: { edges: Array<{ node: { slug: string } }> } }>(
    '{ courses(first: 100, filter: { status: ANY }) { edges { node { slug } } } }',
    undefined,
    ada.headers,
  );
  return response.body.data!.courses.edges.map((edge) => edge.node.slug);
}

describe('the supergraph through the gateway', () => {
  it('answers a query across both subgraphs: courses with their instructors from identity', async () => {
    const response = await stack.graphql<{
      courses: { edges: Array<{ node: { title: string; instructor: { displayName: string } } }> };
    }>('{ courses(first: 3) { edges { node { title instructor { displayName } } } } }');
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    const nodes = response.body.data!.courses.edges.map((edge) => edge.node);
    expect(nodes).toHaveLength(3);
    for (const node of nodes) expect(['Ada Lovelace', 'Grace Hopper']).toContain(node.instructor.displayName);
  });

  it('pages through the catalogue with cursors, without repeats, and hides drafts by default', async () => {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 10; page += 1) {
      const response: GraphQLResponse<any> = await stack.graphql(
        'query($after: String) { courses(first: 2, after: $after) { edges { node { slug publishedAt } } pageInfo { hasNextPage endCursor } } }',
        { after },
      );
      const connection = response.body.data!.courses;
      seen.push(
        ...connection.edges.map((edge: { node: { slug: string; publishedAt: string } }) => edge.node.slug),
      );
      for (const edge of connection.edges) expect(edge.node.publishedAt).not.toBeNull();
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toContain('smart-contract-fundamentals');
    expect(seen).not.toContain('zero-knowledge-proofs');
  });

  it('resolves a user profile with fields contributed by learning', async () => {
    const response = await stack.graphql(
      '{ user(handle: "ada") { handle displayName bio coursesTaught { slug instructor { handle } } enrollments { id } } }',
    );
    const user = response.body.data!.user;
    expect(user.displayName).toBe('Ada Lovelace');
    expect(user.coursesTaught.map((course: { slug: string }) => course.slug).sort()).toEqual([
      'smart-contract-fundamentals',
      'soulbound-tokens',
    ]);
    expect(user.coursesTaught[0].instructor.handle).toBe('ada');
  });

  it('lists upcoming published events soonest first with seats left', async () => {
    const response = await stack.graphql(
      '{ events(first: 10) { edges { node { title startsAt seatsLeft capacity location onlineUrl } } } }',
    );
    const events = response.body.data!.events.edges.map(
      (edge: { node: Record<string, unknown> }) => edge.node,
    );
    expect(events.length).toBeGreaterThanOrEqual(3);
    const starts = events.map((event: { startsAt: string }) => Date.parse(event.startsAt));
    expect(starts).toEqual([...starts].sort((a, b) => a - b));
    for (const event of events) {
      expect(event.seatsLeft).toBe(event.capacity);
      expect((event.location === null) !== (event.onlineUrl === null)).toBe(true);
    }
  });

  it('creates, publishes and enrols, then completes a course by recording progress', async () => {
    const instructorId = await userId('grace');
    const learnerId = await userId('linus');
    const created = await stack.graphql(
      `mutation($input: CreateCourseInput!) { createCourse(input: $input) { ok error { code } course { id publishedAt instructor { displayName } } } }`,
      {
        input: {
          slug: 'e2e-course',
          title: 'End-to-end Testing',
          summary: 'Testing through the gateway.',
          level: 'BEGINNER',
          durationMinutes: 30,
          tags: ['Testing', 'testing'],
          instructorId,
        },
      },
      ada.headers,
    );
    const course = created.body.data!.createCourse.course;
    expect(created.body.data!.createCourse.ok).toBe(true);
    expect(course.publishedAt).toBeNull();
    expect(course.instructor.displayName).toBe('Grace Hopper');

    const early = await stack.graphql(
      'mutation($c: ID!) { enrollInCourse(courseId: $c) { ok error { code } } }',
      { c: course.id },
      linus.headers,
    );
    expect(early.body.data!.enrollInCourse.error.code).toBe('INVALID_STATE');

    const published = await stack.graphql(
      'mutation($id: ID!) { publishCourse(id: $id) { ok course { publishedAt } } }',
      { id: course.id },
      ada.headers,
    );
    expect(published.body.data!.publishCourse.course.publishedAt).not.toBeNull();

    const enrolled = await stack.graphql(
      'mutation($c: ID!) { enrollInCourse(courseId: $c) { ok enrollment { id status progress user { id handle } } } }',
      { c: course.id },
      linus.headers,
    );
    const enrollment = enrolled.body.data!.enrollInCourse.enrollment;
    expect(enrollment).toMatchObject({
      status: 'ACTIVE',
      progress: 0,
      user: { id: learnerId, handle: 'linus' },
    });

    const done = await stack.graphql(
      'mutation($id: ID!) { recordCourseProgress(enrollmentId: $id, progress: 100) { ok enrollment { status progress completedAt } } }',
      { id: enrollment.id },
      linus.headers,
    );
    expect(done.body.data!.recordCourseProgress.enrollment).toMatchObject({
      status: 'COMPLETED',
      progress: 100,
    });
    expect(done.body.data!.recordCourseProgress.enrollment.completedAt).not.toBeNull();

    const again = await stack.graphql(
      'mutation($c: ID!) { enrollInCourse(courseId: $c) { ok error { code } } }',
      { c: course.id },
      linus.headers,
    );
    expect(again.body.data!.enrollInCourse).toEqual({ ok: false, error: { code: 'CONFLICT' } });
  });

  it('never oversells an event under concurrent registrations', async () => {
    const users = await Promise.all(['symbeon', 'ada', 'grace', 'alan', 'linus'].map(userId));
    const startsAt = new Date(Date.now() + 3600_000).toISOString();
    const endsAt = new Date(Date.now() + 7200_000).toISOString();
    const created = await stack.graphql(
      'mutation($input: CreateEventInput!) { createEvent(input: $input) { ok event { id } } }',
      { input: { title: 'Tiny room', kind: 'WORKSHOP', startsAt, endsAt, location: 'Room 1', capacity: 2 } },
      ada.headers,
    );
    const eventId = created.body.data!.createEvent.event.id;
    await stack.graphql('mutation($id: ID!) { publishEvent(id: $id) { ok } }', { id: eventId }, ada.headers);
    const results = await Promise.all(
      users.map((user) =>
        stack.graphql(
          'mutation($e: ID!, $u: ID!) { registerForEvent(eventId: $e, userId: $u) { ok error { code message } } }',
          {
            e: eventId,
            u: user,
          },
          // An administrator registers five people at once.
          admin.headers,
        ),
      ),
    );
    const outcomes = results.map((result) => result.body.data!.registerForEvent);
    expect(outcomes.filter((outcome) => outcome.ok)).toHaveLength(2);
    expect(
      outcomes
        .filter((outcome) => !outcome.ok)
        .every((outcome) => outcome.error.message === 'The event is full'),
    ).toBe(true);
    const event = await stack.graphql('query($id: ID!) { event(id: $id) { seatsLeft } }', { id: eventId });
    expect(event.body.data!.event.seatsLeft).toBe(0);
  });
});

describe('bad input gets a clear error and changes nothing', () => {
  it('a syntax error is GRAPHQL_PARSE_FAILED with its location', async () => {
    const response = await stack.graphql('{ courses(first: 3 { edges }');
    expect(response.status).toBe(400);
    expect(errorCodes(response)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(response.body.errors![0]!.message).toMatch(/Syntax Error/);
  });

  it('an unknown field is GRAPHQL_VALIDATION_FAILED naming the field', async () => {
    const response = await stack.graphql('{ courses(first: 3) { edges { node { titel } } } }');
    expect(response.status).toBe(400);
    expect(errorCodes(response)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(response.body.errors![0]!.message).toContain('Cannot query field "titel" on type "Course"');
  });

  it('invalid variables are BAD_USER_INPUT naming the variable', async () => {
    const response = await stack.graphql('query($n: Int!) { courses(first: $n) { edges { cursor } } }', {
      n: 'three',
    });
    expect(response.status).toBe(400);
    expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.body.errors![0]!.message).toContain('$n');
  });

  it('an out-of-range page size and a forged cursor are refused by the subgraph with a coded error', async () => {
    const big = await stack.graphql('{ courses(first: 500) { edges { cursor } } }');
    expect(errorCodes(big)).toEqual(['BAD_USER_INPUT']);
    expect(big.body.errors![0]!.message).toBe('first must be between 0 and 100');
    const forged = await stack.graphql('{ courses(first: 1, after: "bm9wZQ") { edges { cursor } } }');
    expect(errorCodes(forged)).toEqual(['BAD_USER_INPUT']);
  });

  it('invalid mutation input is an { ok: false } result listing every problem, and nothing is created', async () => {
    const before = await catalogueSlugs();
    const response = await stack.graphql(
      'mutation($input: CreateCourseInput!) { createCourse(input: $input) { ok error { code message field } course { id } } }',
      {
        input: {
          slug: 'Not A Slug',
          title: ' ',
          summary: 'x',
          level: 'BEGINNER',
          durationMinutes: 0,
          instructorId: await userId('ada'),
        },
      },
      ada.headers,
    );
    const result = response.body.data!.createCourse;
    expect(result.ok).toBe(false);
    expect(result.course).toBeNull();
    expect(result.error.code).toBe('BAD_USER_INPUT');
    expect(result.error.field).toBe('input.slug');
    expect(result.error.message).toContain('input.title');
    expect(result.error.message).toContain('input.durationMinutes');
    expect(await catalogueSlugs()).toEqual(before);
  });

  it('a taken slug is CONFLICT and an unknown instructor NOT_FOUND, changing nothing', async () => {
    const before = await catalogueSlugs();
    const input = { title: 'Dup', summary: 'x', level: 'BEGINNER', durationMinutes: 5 };
    const taken = await stack.graphql(
      'mutation($input: CreateCourseInput!) { createCourse(input: $input) { ok error { code field } } }',
      {
        input: { ...input, slug: 'smart-contract-fundamentals', instructorId: await userId('ada') },
      },
      ada.headers,
    );
    expect(taken.body.data!.createCourse.error).toEqual({ code: 'CONFLICT', field: 'input.slug' });
    const unknown = await stack.graphql(
      'mutation($input: CreateCourseInput!) { createCourse(input: $input) { ok error { code field } } }',
      {
        input: { ...input, slug: 'fresh-slug', instructorId: '00000000-0000-4000-8000-000000000000' },
      },
      ada.headers,
    );
    expect(unknown.body.data!.createCourse.error).toEqual({ code: 'NOT_FOUND', field: 'input.instructorId' });
    expect(await catalogueSlugs()).toEqual(before);
  });

  it('refuses queries over the depth, alias and token limits before they reach a subgraph', async () => {
    const deep = await stack.graphql(
      `{ ${'user(handle: "ada") { coursesTaught { instructor { '.repeat(6)}id${' } } }'.repeat(6)} }`,
    );
    expect(deep.status).toBe(400);
    expect(errorCodes(deep)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(deep.body.errors!.map((error) => error.message).join(' ')).toMatch(/depth/i);
    const aliases = await stack.graphql(
      `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: user(handle: "ada") { id }`).join(' ')} }`,
    );
    expect(errorCodes(aliases)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(aliases.body.errors!.map((error) => error.message).join(' ')).toMatch(/aliases/i);
    const tokens = await stack.graphql(`{ ${'__typename '.repeat(6000)} }`);
    expect(errorCodes(tokens)).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(tokens.body.errors![0]!.message).toMatch(/tokens/i);
  });
});

describe('the gateway as an HTTP service', () => {
  it('serves health, readiness and metrics by operation and subgraph', async () => {
    expect((await fetch(`${stack.url}/health`)).status).toBe(200);
    const ready = await fetch(`${stack.url}/ready`);
    expect(ready.status).toBe(200);
    await stack.graphql(
      'query CatalogueForMetrics { courses(first: 1) { edges { node { instructor { handle } } } } }',
    );
    const metrics = await (await fetch(`${stack.url}/metrics`)).text();
    expect(metrics).toMatch(/graphql_requests_total\{[^}]*operation="CatalogueForMetrics"[^}]*\} [1-9]/);
    expect(metrics).toMatch(
      /gateway_subgraph_request_duration_seconds_count\{[^}]*subgraph="identity",outcome="ok"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /gateway_subgraph_request_duration_seconds_count\{[^}]*subgraph="learning",outcome="ok"\} [1-9]/,
    );
  });

  it('serves Apollo Sandbox to browsers, pointed at its own HTTP and WebSocket endpoints', async () => {
    const response = await fetch(`${stack.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('new window.EmbeddedSandbox');
    expect(html).toContain('initialEndpoint: http');
    expect(html).toContain('initialSubscriptionEndpoint: ws');
    expect(html).toContain("window.location.host + '/graphql'");
  });

  it('answers CORS only for allowed origins and blocks CSRF-able requests', async () => {
    const allowed = await fetch(`${stack.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
    const denied = await fetch(`${stack.url}/graphql`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    // A simple GET (no preflight, no JSON content type) could come from any web page: refused.
    const csrf = await fetch(`${stack.url}/graphql?query=${encodeURIComponent('{ __typename }')}`);
    expect(csrf.status).toBe(400);
    expect(await csrf.text()).toMatch(/CSRF/i);
  });

  it('carries a request id and a W3C trace through to the response', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const response = await stack.graphql('{ __typename }', undefined, {
      'x-request-id': 'e2e-request-1',
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
    });
    expect(response.headers.get('x-request-id')).toBe('e2e-request-1');
    expect(response.headers.get('traceparent')).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
  });
});
