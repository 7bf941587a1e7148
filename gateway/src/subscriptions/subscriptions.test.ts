import { EventEmitter, on } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { createClient, type Client, type ExecutionResult } from 'graphql-ws';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createMemoryCache,
  revokedSessionKey,
  startSubgraph,
  type Principal,
  type RunningService,
} from '@symbeon/kernel';
import { parseGatewayEnv } from '../env.js';
import { startGateway, type Gateway } from '../gateway.js';

// Federated subscriptions through the real gateway, in front of two real subgraphs served by the kernel:
// `ticker` owns the subscription, `people` owns the User entity each event refers to. Tokens are RS256 JWTs
// from a JWKS this test serves (identity's role; the end-to-end suite uses identity itself).
const internalAuthSecret = 'gateway-subscriptions-test-secret-0123456789';
const link =
  'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@requiresScopes", "@authenticated"])';

const tickerSdl = (extra = '') => `
  ${link}
  type User @key(fields: "id", resolvable: false) { id: ID! }
  type Tick { n: Int! user: User! ${extra} }
  type Query { tickerInfo: String }
  type Subscription {
    ticks(from: Int): Tick!
    auditTicks: Tick! @requiresScopes(scopes: [["certificates:read"]])
  }
`;
const peopleSdl = `
  ${link}
  type User @key(fields: "id") {
    id: ID!
    name: String!
    email: String @requiresScopes(scopes: [["users:admin"]])
  }
  type Query { person(id: ID!): User }
`;

const ticks = new EventEmitter();
let upstreamActive = 0;
let upstreamStarted = 0;
const people: Record<string, { id: string; name: string; email: string }> = {
  u1: { id: 'u1', name: 'Ada', email: 'ada@example.com' },
  u2: { id: 'u2', name: 'Alan', email: 'alan@example.com' },
};

/** The ticker's event source; counts open upstream subscriptions (return() ends one at once). */
function tickStream(): AsyncIterableIterator<{ n: number; userId: string }> {
  upstreamActive += 1;
  upstreamStarted += 1;
  const inner = on(ticks, 'tick');
  let open = true;
  const close = () => {
    if (open) upstreamActive -= 1;
    open = false;
  };
  return {
    async next() {
      const result = await inner.next();
      if (result.done) {
        close();
        return { value: undefined, done: true };
      }
      return { value: (result.value as [{ n: number; userId: string }])[0], done: false };
    },
    async return() {
      close();
      await inner.return?.();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

let folder: string;
let supergraphPath: string;
let ticker: RunningService;
let peopleService: RunningService;
let jwksServer: Server;
let privateKey: CryptoKey;
let gateway: Gateway;
const cache = createMemoryCache();
const clients: Client[] = [];

function compose(tickerExtra = '') {
  const composed = composeServices([
    { name: 'ticker', url: `${ticker.url}/graphql`, typeDefs: parse(tickerSdl(tickerExtra)) },
    { name: 'people', url: `${peopleService.url}/graphql`, typeDefs: parse(peopleSdl) },
  ]);
  if (composed.errors) throw composed.errors[0];
  writeFileSync(supergraphPath, composed.supergraphSdl);
}

async function token(claims: { sid: string; scopes: string[]; expiresIn?: string }) {
  return new SignJWT({ sid: claims.sid, roles: ['MEMBER'], scopes: claims.scopes, tier: 'FREE' })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key', typ: 'at+jwt' })
    .setSubject(`user-${claims.sid}`)
    .setIssuer('http://localhost:8000')
    .setAudience('symbeon-api')
    .setIssuedAt()
    .setExpirationTime(claims.expiresIn ?? '15m')
    .sign(privateKey);
}

function client(connectionParams: Record<string, string> = {}): Client {
  const created = createClient({
    url: `${gateway.url.replace('http', 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
  clients.push(created);
  return created;
}

/** Collects a subscription's results; `done` settles with how it ended. */
function collect(on: Client, query: string, variables: Record<string, unknown> = {}) {
  const results: ExecutionResult[] = [];
  let end!: (outcome: { completed: boolean; error?: unknown }) => void;
  const done = new Promise<{ completed: boolean; error?: unknown }>((resolve) => (end = resolve));
  const unsubscribe = on.subscribe(
    { query, variables },
    {
      next: (value) => void results.push(value as ExecutionResult),
      error: (error) => end({ completed: false, error }),
      complete: () => end({ completed: true }),
    },
  );
  return { results, done, unsubscribe };
}

async function until(condition: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const emit = (n: number, userId = 'u1') => ticks.emit('tick', { n, userId });

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'symbeon-subscriptions-'));
  supergraphPath = path.join(folder, 'supergraph.graphql');
  const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
  const context = async ({ principal }: { principal: Principal }) => ({ principal });
  ticker = await startSubgraph({
    name: 'ticker',
    typeDefs: parse(tickerSdl()),
    resolvers: [
      {
        Query: { tickerInfo: () => 'ticker' },
        Subscription: {
          ticks: {
            subscribe: () => tickStream(),
            resolve: (tick: { n: number; userId: string }) => ({ n: tick.n, user: { id: tick.userId } }),
          },
          auditTicks: {
            subscribe: () => tickStream(),
            resolve: (tick: { n: number; userId: string }) => ({ n: tick.n, user: { id: tick.userId } }),
          },
        },
      },
    ],
    port: 0,
    host: '127.0.0.1',
    logger,
    ready: async () => {},
    context,
    internalAuthSecret,
    subscriptions: true,
  });
  peopleService = await startSubgraph({
    name: 'people',
    typeDefs: parse(peopleSdl),
    resolvers: [
      {
        Query: { person: (_: unknown, { id }: { id: string }) => people[id] ?? null },
        User: { __resolveReference: ({ id }: { id: string }) => people[id] ?? null },
      },
    ],
    port: 0,
    host: '127.0.0.1',
    logger,
    ready: async () => {},
    context,
    internalAuthSecret,
  });
  const keys = await generateKeyPair('RS256');
  privateKey = keys.privateKey;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const address = jwksServer.address() as { port: number };
  compose();
  gateway = await startGateway({
    env: parseGatewayEnv({
      PORT: '0',
      SUPERGRAPH_PATH: supergraphPath,
      INTERNAL_AUTH_SECRET: internalAuthSecret,
      AUTH_JWKS_URL: `http://127.0.0.1:${address.port}/jwks.json`,
      MAX_SUBSCRIPTIONS_PER_CONNECTION: '3',
      LOG_LEVEL: 'silent',
      DATA_DIR: folder,
    }),
    logger,
    cache,
  });
});

afterAll(async () => {
  for (const each of clients) await each.dispose();
  await gateway?.stop();
  await ticker?.stop();
  await peopleService?.stop();
  jwksServer?.close();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe('federated subscriptions through the gateway (graphql-ws)', () => {
  it('runs the rest of the plan per event: fields from another subgraph arrive with each event', async () => {
    const anonymous = client();
    const sub = collect(anonymous, 'subscription { ticks { n user { id name } } }');
    await until(() => upstreamActive === 1);
    emit(1, 'u1');
    emit(2, 'u2');
    await until(() => sub.results.length === 2);
    expect(sub.results).toEqual([
      { data: { ticks: { n: 1, user: { id: 'u1', name: 'Ada' } } } },
      { data: { ticks: { n: 2, user: { id: 'u2', name: 'Alan' } } } },
    ]);
    sub.unsubscribe();
    // The last client left: the upstream subscription is closed.
    await until(() => upstreamActive === 0);
  });

  it('shares one upstream subscription among identical subscriptions', async () => {
    const started = upstreamStarted;
    const first = collect(client(), 'subscription { ticks { n } }');
    const second = collect(client(), 'subscription { ticks { n } }');
    await until(() => upstreamActive === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(upstreamStarted - started).toBe(1);
    emit(3);
    await until(() => first.results.length === 1 && second.results.length === 1);
    first.unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(upstreamActive).toBe(1);
    second.unsubscribe();
    await until(() => upstreamActive === 0);
  });

  it('enforces the directives: unauthorized fields are null with an error on every event, the rest flows', async () => {
    const anonymous = collect(client(), 'subscription { ticks { n user { name email } } }');
    const admin = collect(
      client({ Authorization: `Bearer ${await token({ sid: 'admin-1', scopes: ['users:admin'] })}` }),
      'subscription { ticks { n user { name email } } }',
    );
    await until(() => upstreamActive === 2);
    emit(4, 'u1');
    await until(() => anonymous.results.length === 1 && admin.results.length === 1);
    expect(anonymous.results[0]).toMatchObject({
      data: { ticks: { n: 4, user: { name: 'Ada', email: null } } },
      errors: [{ extensions: { code: 'UNAUTHORIZED_FIELD_OR_TYPE' }, path: ['ticks', 'user', 'email'] }],
    });
    expect(admin.results[0]).toEqual({
      data: { ticks: { n: 4, user: { name: 'Ada', email: 'ada@example.com' } } },
    });
    anonymous.unsubscribe();
    admin.unsubscribe();
    await until(() => upstreamActive === 0);
  });

  it('refuses a root subscription field the caller has no scope for, and allows it with the scope', async () => {
    const refused = collect(client(), 'subscription { auditTicks { n } }');
    const outcome = await refused.done;
    expect(outcome.completed).toBe(false);
    expect(outcome.error).toMatchObject([{ extensions: { code: 'UNAUTHORIZED_FIELD_OR_TYPE' } }]);
    expect(upstreamActive).toBe(0);

    const auditor = collect(
      client({ authorization: `Bearer ${await token({ sid: 'auditor-1', scopes: ['certificates:read'] })}` }),
      'subscription { auditTicks { n } }',
    );
    await until(() => upstreamActive === 1);
    emit(5);
    await until(() => auditor.results.length === 1);
    expect(auditor.results[0]).toEqual({ data: { auditTicks: { n: 5 } } });
    auditor.unsubscribe();
    await until(() => upstreamActive === 0);
  });

  it('re-checks the credentials on every event: a revoked session ends the subscription', async () => {
    const sub = collect(
      client({ Authorization: `Bearer ${await token({ sid: 'to-revoke', scopes: ['certificates:read'] })}` }),
      'subscription { auditTicks { n } }',
    );
    await until(() => upstreamActive === 1);
    emit(6);
    await until(() => sub.results.length === 1);
    await cache.set(revokedSessionKey('to-revoke'), '1');
    // Credentials are re-checked at most once a second per connection.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    emit(7);
    expect(await sub.done).toEqual({ completed: true });
    expect(sub.results).toEqual([
      { data: { auditTicks: { n: 6 } } },
      { errors: [expect.objectContaining({ extensions: { code: 'UNAUTHENTICATED' } })] },
    ]);
    await until(() => upstreamActive === 0);
  });

  it('closes a connection with wrong credentials (4401) and refuses queries over WebSocket', async () => {
    const bad = collect(client({ Authorization: 'Bearer not-a-token' }), 'subscription { ticks { n } }');
    const outcome = await bad.done;
    expect(outcome.error).toMatchObject({ code: 4401 });

    const query = collect(client(), '{ tickerInfo }');
    expect((await query.done).error).toMatchObject([{ extensions: { code: 'NOT_A_SUBSCRIPTION' } }]);
    const invalid = collect(client(), 'subscription { ticks { nope } }');
    expect((await invalid.done).error).toMatchObject([{ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]);
  });

  it('limits subscriptions per connection', async () => {
    const shared = client();
    const open = [1, 2, 3].map((from) =>
      collect(shared, 'subscription($from: Int) { ticks(from: $from) { n } }', { from }),
    );
    await until(() => upstreamActive === 3);
    const fourth = collect(shared, 'subscription { ticks { n } }');
    await until(() => fourth.results.length === 1);
    expect(fourth.results[0]).toMatchObject({ errors: [{ extensions: { code: 'SUBSCRIPTION_LIMIT' } }] });
    for (const each of open) each.unsubscribe();
    await until(() => upstreamActive === 0);
  });

  it('serves GraphQL over SSE on the same endpoint', async () => {
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { ticks { n user { name } } }' }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    await until(() => upstreamActive === 1);
    emit(8, 'u2');
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('"n":8')) text += new TextDecoder().decode((await reader.read()).value);
    expect(text).toContain('{"data":{"ticks":{"n":8,"user":{"name":"Alan"}}}}');
    controller.abort();
    await until(() => upstreamActive === 0);
  });

  it('ends open subscriptions with SUPERGRAPH_RELOADED when the supergraph changes', async () => {
    const sub = collect(client(), 'subscription { ticks { n } }');
    await until(() => upstreamActive === 1);
    compose('label: String');
    expect(await sub.done).toEqual({ completed: true });
    expect(sub.results.at(-1)).toMatchObject({ errors: [{ extensions: { code: 'SUPERGRAPH_RELOADED' } }] });
    await until(() => upstreamActive === 0);
  }, 15_000);
});
