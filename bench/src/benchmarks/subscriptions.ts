import { EventEmitter, on } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { pino } from 'pino';
import WebSocket from 'ws';
import { startSubgraph } from '@symbeon/kernel';
import { benchSecrets, UNREACHABLE_RATE_LIMITS } from '../kit/auth.js';
import { GATEWAY_ENTRY, procStatusKb, startNodeProcess } from '../kit/node-processes.js';
import { describeOptions, parseNumberOptions, type NumberOption } from '../kit/options.js';
import { Cleanup, loadNote, machineFacts, print, round, table, writeResults } from '../kit/report.js';

const options = {
  events: { default: 20, min: 1, description: 'events published per subscriber count' },
  interval: { default: 200, min: 10, description: 'ms between two events' },
  max: { default: 5000, min: 1, description: 'largest subscriber count (runs 100, 1000, 5000 up to it)' },
} satisfies Record<string, NumberOption>;

export const subscriptionsBenchmark = {
  name: 'subscriptions',
  summary: 'federated subscriptions: publish-to-every-client latency and memory per idle subscriber',
  usage: describeOptions(options),
  run: runSubscriptionsBenchmark,
};

const TARGETS = { p99Ms: 50, bytesPerIdleSubscriber: 20 * 1024 };
const SUBSCRIPTION = 'subscription { certificateEvents { seq publishedAt type } }';

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])
  type Query { ping: String }
  type BenchEvent { seq: Int! publishedAt: Float! type: String! }
  type Subscription { certificateEvents: BenchEvent! }
`);

const now = () => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function runSubscriptionsBenchmark(argv: string[]): Promise<void> {
  const settings = parseNumberOptions(argv, options);
  const counts = [100, 1000, 5000].filter((count) => count <= settings.max);
  if (!counts.includes(settings.max)) counts.push(Math.floor(settings.max));
  const cleanup = new Cleanup();
  const secrets = benchSecrets();
  const folder = mkdtempSync(path.join(tmpdir(), 'symbeon-bench-subscriptions-'));
  cleanup.add('temporary folder', () => rmSync(folder, { recursive: true, force: true }));
  try {
    // The event source: a subgraph served by the kernel exactly like the chain subgraph, in this process.
    // Events carry their publication time; every client measures its delay against the same clock.
    const publisher = new EventEmitter();
    publisher.setMaxListeners(0);
    const subgraph = await startSubgraph({
      name: 'events',
      typeDefs,
      resolvers: [
        {
          Query: { ping: () => 'pong' },
          Subscription: {
            certificateEvents: {
              subscribe: () =>
                (async function* () {
                  for await (const [event] of on(publisher, 'event'))
                    yield { certificateEvents: event as object };
                })(),
            },
          },
        },
      ],
      port: 0,
      host: '127.0.0.1',
      logger: pino({ level: 'warn' }),
      ready: async () => {},
      context: async () => ({}),
      internalAuthSecret: secrets.INTERNAL_AUTH_SECRET,
      subscriptions: true,
    });
    cleanup.add('events subgraph', () => subgraph.stop());
    const composed = composeServices([{ name: 'events', url: `${subgraph.url}/graphql`, typeDefs }]);
    if (composed.errors) throw composed.errors[0]!;
    const supergraphPath = path.join(folder, 'supergraph.graphql');
    writeFileSync(supergraphPath, composed.supergraphSdl);

    const gateway = startNodeProcess(GATEWAY_ENTRY, {
      PORT: '0',
      LOG_LEVEL: 'info',
      NODE_ENV: 'development',
      SUPERGRAPH_PATH: supergraphPath,
      DATA_DIR: folder,
      REDIS_URL: '',
      INTERNAL_AUTH_SECRET: secrets.INTERNAL_AUTH_SECRET,
      AUTH_JWKS_URL: 'http://127.0.0.1:9/unused',
      RATE_LIMITS: UNREACHABLE_RATE_LIMITS,
      MAX_SUBSCRIPTIONS_PER_CALLER: '1000000',
    });
    cleanup.add('gateway', () => gateway.stop());
    const [, gatewayUrl] = await gateway.waitFor(/"url":"(http:\/\/[^"]+)\/graphql"[^\n]*gateway ready/);
    const wsUrl = `${gatewayUrl!.replace('http', 'ws')}/graphql`;

    print(
      `subscriptions benchmark — ${machineFacts().cpus} CPUs; clients and the event source share this process`,
    );
    print(loadNote());
    const rows: Array<Array<string | number>> = [];
    const results: unknown[] = [];
    let seq = 0;
    for (const count of counts) {
      await sleep(1_000);
      const rssBefore = procStatusKb(gateway.pid, 'VmRSS') ?? 0;
      const clients: Client[] = [];
      const received: number[][] = [];
      const allReceived = new Map<number, { left: number; at: number }>();
      let acknowledged = 0;
      for (let start = 0; start < count; start += 200) {
        const batch = Array.from({ length: Math.min(200, count - start) }, (_, offset) => start + offset);
        await Promise.all(
          batch.map(
            (index) =>
              new Promise<void>((resolve, reject) => {
                const client = createClient({
                  url: wsUrl,
                  webSocketImpl: WebSocket,
                  lazy: false,
                  retryAttempts: 0,
                  on: { connected: () => resolve(), error: reject },
                });
                clients.push(client);
                received[index] = [];
                client.subscribe(
                  { query: SUBSCRIPTION },
                  {
                    next: (result) => {
                      const event = (
                        result.data as { certificateEvents?: { seq: number; publishedAt: number } }
                      )?.certificateEvents;
                      if (!event) return;
                      const at = now();
                      if (event.seq < 0) {
                        acknowledged += 1;
                        return;
                      }
                      received[index]!.push(at - event.publishedAt);
                      const pending = allReceived.get(event.seq);
                      if (pending) {
                        pending.left -= 1;
                        pending.at = at;
                      }
                    },
                    error: () => {},
                    complete: () => {},
                  },
                );
              }),
          ),
        );
      }
      // Every subscription is live once a probe event reaches all of them.
      for (let attempt = 0; acknowledged < count && attempt < 200; attempt += 1) {
        acknowledged = 0;
        publisher.emit('event', { seq: -1, publishedAt: now(), type: 'PROBE' });
        await sleep(100);
      }
      if (acknowledged < count) throw new Error(`only ${acknowledged} of ${count} subscriptions went live`);
      await sleep(2_000);
      const rssIdle = procStatusKb(gateway.pid, 'VmRSS') ?? 0;
      const bytesPerSubscriber = ((rssIdle - rssBefore) * 1024) / count;

      const publishedAt = new Map<number, number>();
      for (let event = 0; event < settings.events; event += 1) {
        seq += 1;
        const at = now();
        publishedAt.set(seq, at);
        allReceived.set(seq, { left: count, at });
        publisher.emit('event', { seq, publishedAt: at, type: 'ISSUED' });
        await sleep(settings.interval);
      }
      await sleep(1_000);
      const deliveries = received.flat().sort((a, b) => a - b);
      const everyone = [...allReceived.entries()]
        .filter(([, state]) => state.left === 0)
        .map(([id, state]) => state.at - publishedAt.get(id)!)
        .sort((a, b) => a - b);
      const lost = settings.events * count - deliveries.length;
      for (const client of clients) await client.dispose();
      allReceived.clear();
      const row = {
        subscribers: count,
        deliveryP50Ms: round(percentile(deliveries, 50), 2),
        deliveryP99Ms: round(percentile(deliveries, 99), 2),
        everyoneP50Ms: round(percentile(everyone, 50), 2),
        everyoneP99Ms: round(percentile(everyone, 99), 2),
        lost,
        bytesPerIdleSubscriber: Math.round(bytesPerSubscriber),
      };
      results.push(row);
      rows.push([
        count,
        row.deliveryP50Ms,
        row.deliveryP99Ms,
        row.everyoneP50Ms,
        row.everyoneP99Ms,
        lost,
        `${round(bytesPerSubscriber / 1024, 1)} KB`,
      ]);
    }
    print(
      table(
        [
          'subscribers',
          'delivery p50 ms',
          'delivery p99 ms',
          'all-received p50 ms',
          'all-received p99 ms',
          'lost',
          'RSS / idle subscriber',
        ],
        rows,
      ),
    );
    const largest = results.at(-1) as { everyoneP99Ms: number; bytesPerIdleSubscriber: number };
    print(
      `targets: p99 ≤ ${TARGETS.p99Ms} ms at 5,000 subscribers (all-received p99 here: ${largest.everyoneP99Ms} ms) — ${
        largest.everyoneP99Ms <= TARGETS.p99Ms ? 'PASS' : 'MISS'
      }; ≤ 20 KB per idle subscriber (${round(largest.bytesPerIdleSubscriber / 1024, 1)} KB) — ${
        largest.bytesPerIdleSubscriber <= TARGETS.bytesPerIdleSubscriber ? 'PASS' : 'MISS'
      }`,
    );
    print(`written to ${writeResults('subscriptions', { settings, machine: machineFacts(), results })}`);
  } finally {
    await cleanup.runAll();
  }
}
