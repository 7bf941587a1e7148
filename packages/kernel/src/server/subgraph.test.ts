import { parse } from 'graphql';
import { createClient } from 'graphql-ws';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { signInternalToken, INTERNAL_TOKEN_HEADER } from '../auth/internal-token.js';
import { ANONYMOUS, type Principal } from '../auth/principal.js';
import { DomainError } from '../errors.js';
import type { RunningService } from './service.js';
import { startSubgraph } from './subgraph.js';

const internalAuthSecret = 'kernel-subgraph-test-secret-0123456789abcdef';
const ada: Principal = {
  kind: 'user',
  userId: 'user-ada',
  sessionId: 'session-1',
  roles: ['MEMBER'],
  scopes: [],
  tier: 'PRO',
};

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
  scalar DateTime
  type Query { now: DateTime! refuse: String slow(ms: Int!): Int! caller: String! }
  type Subscription { ticks(count: Int!): Int! }
`);

let ready = true;
let service: RunningService;

beforeAll(async () => {
  service = await startSubgraph<{ requestId: string; principal: Principal; headerNames: string[] }>({
    name: 'kernel-test',
    typeDefs,
    resolvers: [
      {
        Query: {
          now: () => new Date('2026-11-29T10:00:00Z'),
          refuse: () => {
            throw new DomainError('NOT_FOUND', 'No such thing', 'id');
          },
          slow: async (_: unknown, { ms }: { ms: number }) => {
            await new Promise((resolve) => setTimeout(resolve, ms));
            return ms;
          },
          caller: (_: unknown, __: unknown, context: { principal: Principal; headerNames: string[] }) =>
            JSON.stringify({ principal: context.principal, headerNames: context.headerNames }),
        },
        Subscription: {
          ticks: {
            subscribe: async function* (_: unknown, { count }: { count: number }) {
              for (let tick = 1; tick <= count; tick += 1) yield { ticks: tick };
            },
          },
        },
      },
    ],
    port: 0,
    host: '127.0.0.1',
    logger: pino({ level: 'silent' }),
    ready: async () => {
      if (!ready) throw new Error('database unreachable');
    },
    context: async ({ identity, principal, headers }) => ({
      requestId: identity.requestId,
      principal,
      headerNames: Object.keys(headers),
    }),
    subscriptions: true,
    internalAuthSecret,
  });
});

afterAll(async () => {
  await service?.stop();
});

/** A GraphQL POST as the gateway sends it: with an internal token for `principal`, unless `token` says otherwise. */
async function send(query: string, options: { principal?: Principal; token?: string | null } = {}) {
  const token =
    options.token === undefined
      ? await signInternalToken(internalAuthSecret, options.principal ?? ANONYMOUS, 'test-request')
      : options.token;
  const response = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { [INTERNAL_TOKEN_HEADER]: token }),
    },
    body: JSON.stringify({ query }),
  });
  return {
    status: response.status,
    body: (await response.json()) as {
      data?: Record<string, unknown>;
      errors?: Array<{ message: string; extensions: Record<string, unknown> }>;
    },
  };
}

async function post(query: string) {
  return (await send(query)).body;
}

describe('subgraph bootstrap', () => {
  it('serves GraphQL with the DateTime scalar and coded domain errors', async () => {
    expect((await post('{ now }')).data).toEqual({ now: '2026-11-29T10:00:00.000Z' });
    const refused = await post('{ refuse }');
    expect(refused.errors?.[0]).toMatchObject({
      message: 'No such thing',
      extensions: { code: 'NOT_FOUND', field: 'id' },
    });
  });

  it('reports liveness, readiness and metrics', async () => {
    expect((await fetch(`${service.url}/health`)).status).toBe(200);
    expect((await fetch(`${service.url}/ready`)).status).toBe(200);
    ready = false;
    const notReady = await fetch(`${service.url}/ready`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ reason: 'database unreachable' });
    ready = true;
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toMatch(/graphql_requests_total\{[^}]*service="kernel-test"[^}]*\} [1-9]/);
    expect(metrics).toContain('process_resident_memory_bytes');
  });

  it('serves subscriptions over graphql-ws on /graphql', async () => {
    const client = createClient({
      url: `${service.url.replace('http', 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      lazy: true,
      connectionParams: async () => ({
        [INTERNAL_TOKEN_HEADER]: await signInternalToken(internalAuthSecret, ANONYMOUS, 'ws'),
      }),
    });
    const received: unknown[] = [];
    await new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: 'subscription { ticks(count: 3) }' },
        { next: (value) => received.push(value.data), error: reject, complete: resolve },
      );
    });
    await client.dispose();
    expect(received).toEqual([{ ticks: 1 }, { ticks: 2 }, { ticks: 3 }]);
  });

  it('lets in-flight requests finish on stop, then refuses new connections', async () => {
    // Stop only once the request is really in flight (its resolver running), however loaded the machine.
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const local = await startSubgraph({
      name: 'draining',
      typeDefs,
      resolvers: [
        {
          Query: {
            slow: async (_: unknown, { ms }: { ms: number }) => {
              started();
              await new Promise((resolve) => setTimeout(resolve, ms));
              return ms;
            },
          },
        },
      ],
      port: 0,
      host: '127.0.0.1',
      logger: pino({ level: 'silent' }),
      ready: async () => {},
      context: async () => ({}),
      internalAuthSecret,
    });
    const inflight = fetch(`${local.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [INTERNAL_TOKEN_HEADER]: await signInternalToken(internalAuthSecret, ANONYMOUS, 'drain'),
      },
      body: JSON.stringify({ query: '{ slow(ms: 300) }' }),
    });
    await running;
    await local.stop();
    expect(await (await inflight).json()).toEqual({ data: { slow: 300 } });
    await expect(fetch(`${local.url}/health`)).rejects.toThrow();
  });
});

describe('only the gateway may call a subgraph', () => {
  const refusal = {
    errors: [
      {
        message: 'This service only accepts requests from the Symbeon gateway',
        extensions: { code: 'UNAUTHENTICATED' },
      },
    ],
  };

  it('refuses GraphQL without the internal token, before Apollo runs', async () => {
    const operationCounts = async () =>
      (await (await fetch(`${service.url}/metrics`)).text())
        .split('\n')
        .filter((line) => line.startsWith('graphql_requests_total'));
    const before = await operationCounts();
    const missing = await send('{ now }', { token: null });
    expect(missing).toEqual({ status: 401, body: refusal });
    // Apollo never saw it: the per-operation counter did not move.
    expect(await operationCounts()).toEqual(before);
    await send('{ now }');
    expect(await operationCounts()).not.toEqual(before);

    const get = await fetch(`${service.url}/graphql?query=%7Bnow%7D`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(get.status).toBe(401);
    expect(await get.json()).toEqual(refusal);
  });

  it('refuses forged, foreign and client-style credentials', async () => {
    const forged = await signInternalToken('someone-elses-secret-of-enough-length-000', ada, 'r');
    expect(await send('{ now }', { token: forged })).toEqual({ status: 401, body: refusal });
    expect(await send('{ now }', { token: 'garbage' })).toEqual({ status: 401, body: refusal });
    // A valid token in the wrong header is not the gateway speaking.
    const token = await signInternalToken(internalAuthSecret, ada, 'r');
    const response = await fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ now }' }),
    });
    expect(response.status).toBe(401);
  });

  it('hands the verified principal to the context, and keeps the token out of its headers', async () => {
    const response = await send('{ caller }', { principal: ada });
    expect(response.status).toBe(200);
    const caller = JSON.parse(response.body.data!.caller as string);
    expect(caller.principal).toEqual(ada);
    expect(caller.headerNames).not.toContain(INTERNAL_TOKEN_HEADER);
    expect(caller.headerNames).toContain('content-type');
  });

  it('leaves health, readiness and metrics open', async () => {
    for (const route of ['/health', '/ready', '/metrics']) {
      expect((await fetch(`${service.url}${route}`)).status).toBe(200);
    }
  });

  it('closes graphql-ws connections without a valid token (4403), and serves those with one', async () => {
    const subscribe = async (connectionParams: Record<string, unknown>) => {
      const client = createClient({
        url: `${service.url.replace('http', 'ws')}/graphql`,
        webSocketImpl: WebSocket,
        lazy: true,
        retryAttempts: 0,
        connectionParams,
      });
      try {
        const received: unknown[] = [];
        await new Promise<void>((resolve, reject) => {
          client.subscribe(
            { query: 'subscription { ticks(count: 2) }' },
            { next: (value) => received.push(value.data), error: reject, complete: resolve },
          );
        });
        return received;
      } finally {
        await client.dispose();
      }
    };
    await expect(subscribe({})).rejects.toMatchObject({ code: 4403 });
    await expect(subscribe({ [INTERNAL_TOKEN_HEADER]: 'garbage' })).rejects.toMatchObject({ code: 4403 });
    const token = await signInternalToken(internalAuthSecret, ada, 'ws');
    expect(await subscribe({ [INTERNAL_TOKEN_HEADER]: token })).toEqual([{ ticks: 1 }, { ticks: 2 }]);
  });

  it('refuses to start without a usable secret', async () => {
    await expect(
      startSubgraph({
        name: 'no-secret',
        typeDefs,
        resolvers: [],
        port: 0,
        host: '127.0.0.1',
        logger: pino({ level: 'silent' }),
        ready: async () => {},
        context: async () => ({}),
        internalAuthSecret: '',
      }),
    ).rejects.toThrow(/at least 32 bytes/);
  });
});
