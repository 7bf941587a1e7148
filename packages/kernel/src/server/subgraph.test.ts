import { parse } from 'graphql';
import { createClient } from 'graphql-ws';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DomainError } from '../errors.js';
import type { RunningService } from './service.js';
import { startSubgraph } from './subgraph.js';

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])
  scalar DateTime
  type Query { now: DateTime! refuse: String slow(ms: Int!): Int! }
  type Subscription { ticks(count: Int!): Int! }
`);

let ready = true;
let service: RunningService;

beforeAll(async () => {
  service = await startSubgraph<{ requestId: string }>({
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
    context: async ({ identity }) => ({ requestId: identity.requestId }),
    subscriptions: true,
  });
});

afterAll(async () => {
  await service?.stop();
});

async function post(query: string) {
  const response = await fetch(`${service.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as {
    data?: Record<string, unknown>;
    errors?: Array<{ message: string; extensions: Record<string, unknown> }>;
  };
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
    const local = await startSubgraph({
      name: 'draining',
      typeDefs,
      resolvers: [
        {
          Query: {
            slow: async (_: unknown, { ms }: { ms: number }) => {
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
    });
    const inflight = fetch(`${local.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ slow(ms: 300) }' }),
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await local.stop();
    expect(await (await inflight).json()).toEqual({ data: { slow: 300 } });
    await expect(fetch(`${local.url}/health`)).rejects.toThrow();
  });
});
