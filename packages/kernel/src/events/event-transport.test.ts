import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../redis.js';
import { deleteByPrefix } from '../testing/redis.js';
import { redisForTests } from '../testing/services.js';
import { eventTransportContract, makeEvent, waitFor } from './event-transport.contract.js';
import type { DeliveredEvent, EventTransport } from './event-transport.js';
import { createMemoryEventTransport } from './memory-transport.js';
import { createRedisStreamsTransport } from './redis-streams-transport.js';

eventTransportContract('memory', async () => createMemoryEventTransport());

const redisUrl = await redisForTests('kernel events (Redis Streams adapter)');

describe.skipIf(redisUrl === undefined)('Redis Streams transport', () => {
  const url = redisUrl ?? '';
  let admin: Redis;

  beforeAll(() => {
    admin = createRedisClient(url, { name: 'events-test-admin' });
  });

  afterAll(async () => {
    await admin?.quit();
  });

  /** A transport in its own namespace whose close() also deletes the namespace's keys. */
  const open = (prefix: string, extra: { blockMs?: number } = {}): EventTransport => {
    const transport = createRedisStreamsTransport({ url, prefix, blockMs: 200, ...extra });
    return {
      ...transport,
      async close() {
        await transport.close();
        await deleteByPrefix(admin, prefix);
      },
    };
  };

  eventTransportContract('redis streams', async () => open(`test:${randomUUID()}`));

  it('parks a dead event in <prefix>:dead:<group> with its attempts and last error', async () => {
    const prefix = `test:${randomUUID()}`;
    const transport = open(prefix);
    try {
      let calls = 0;
      await transport.subscribe(
        async () => {
          calls++;
          throw new Error(`nope ${calls}`);
        },
        { group: 'sink', types: ['test.Poison'], retryDelayMs: 10, maxAttempts: 2 },
      );
      const event = makeEvent('test.Poison', { x: 1 });
      await transport.publish(event);
      await waitFor(() => calls === 2, 'two attempts');
      const deadKey = `${prefix}:dead:sink`;
      // Parking follows the last failure right away, but asynchronously.
      let dead: Array<[string, string[]]> = [];
      for (let i = 0; i < 100 && dead.length === 0; i++) {
        dead = await admin.xrange(deadKey, '-', '+');
        if (dead.length === 0) await sleep(10);
      }
      expect(dead).toHaveLength(1);
      const fields = dead[0]?.[1] ?? [];
      const map = new Map<string, string>();
      for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] ?? '', fields[i + 1] ?? '');
      expect(map.get('id')).toBe(event.id);
      expect(map.get('attempts')).toBe('2');
      expect(map.get('error')).toBe('nope 2');
      expect(map.get('group')).toBe('sink');
      expect(JSON.parse(map.get('payload') ?? 'null')).toEqual({ x: 1 });
      const pending = await admin.xpending(`${prefix}:events:test.Poison`, 'sink');
      expect(pending[0]).toBe(0);
    } finally {
      await transport.close();
    }
  });

  it('reclaims an entry a crashed consumer took and never acknowledged', async () => {
    const prefix = `test:${randomUUID()}`;
    const transport = open(prefix);
    try {
      const received: DeliveredEvent[] = [];
      const subscription = await transport.subscribe(async (event) => void received.push(event), {
        group: 'survivors',
        types: ['test.Orphan'],
        retryDelayMs: 50,
      });
      // Closed before the event exists, so the only live reader is the "crashed" one below.
      await subscription.close();
      const event = makeEvent('test.Orphan');
      await transport.publish(event);
      const taken = await admin.xreadgroup(
        'GROUP',
        'survivors',
        'ghost',
        'COUNT',
        1,
        'STREAMS',
        `${prefix}:events:test.Orphan`,
        '>',
      );
      expect(taken).not.toBeNull();

      await transport.subscribe(async (event) => void received.push(event), {
        group: 'survivors',
        types: ['test.Orphan'],
        retryDelayMs: 50,
      });
      await waitFor(() => received.length === 1, 'the reclaimed event');
      expect(received[0]?.id).toBe(event.id);
      expect(received[0]?.deliveryAttempt).toBe(2);
    } finally {
      await transport.close();
    }
  });

  it('closes promptly although a read is blocked for much longer', async () => {
    const transport = open(`test:${randomUUID()}`, { blockMs: 10_000 });
    await transport.subscribe(async () => undefined, { group: 'slow', types: ['test.Nothing'] });
    await sleep(50);
    const started = performance.now();
    await transport.close();
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('removes its consumer from the group on close when it owns no pending entries', async () => {
    const prefix = `test:${randomUUID()}`;
    const transport = open(prefix);
    try {
      const received: string[] = [];
      const subscription = await transport.subscribe(async (event) => void received.push(event.id), {
        group: 'tidy',
        types: ['test.Tidy'],
      });
      await transport.publish(makeEvent('test.Tidy'));
      await waitFor(() => received.length === 1, 'the event');
      const key = `${prefix}:events:test.Tidy`;
      expect(await admin.xinfo('CONSUMERS', key, 'tidy')).toHaveLength(1);
      await subscription.close();
      expect(await admin.xinfo('CONSUMERS', key, 'tidy')).toHaveLength(0);
    } finally {
      await transport.close();
    }
  });
});
