import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createRedisClient } from '../redis.js';
import type {
  EventEnvelope,
  EventHandler,
  EventTransport,
  SubscribeOptions,
  Subscription,
} from './event-transport.js';

export interface RedisStreamsTransportOptions {
  url: string;
  /** Keys are `<prefix>:events:<type>` (one stream per type) and `<prefix>:dead:<group>`. */
  prefix: string;
  /**
   * Readable part of the consumer names (default: the host name). Each subscription's consumer is
   * `<consumerName>-<pid>-<random>-<n>`: two live consumers must never share a name, or removing one on
   * close could drop entries the other still holds. Entries of a consumer that died are reclaimed anyway.
   */
  consumerName?: string;
  /** How long one XREADGROUP waits for new events (default 1 000 ms). */
  blockMs?: number;
  /** Where loop errors (lost connection, failed ack) are reported; defaults to console.warn. */
  logger?: Logger;
}

const DEFAULT_MAX_ATTEMPTS = 10;
const DEFAULT_RETRY_DELAY_MS = 1_000;
const MAX_RETRY_DELAY_MS = 5 * 60_000;
/**
 * Approximate cap per stream. Trimming is what keeps streams bounded, at a price: an entry a group has
 * not acknowledged when it is trimmed away is lost to that group.
 */
const STREAM_MAX_LEN = 100_000;
const READ_COUNT = 16;
const RECLAIM_COUNT = 64;

interface StreamEntry {
  id: string;
  /** Null when the entry was deleted (trimmed) while pending. */
  fields: string[] | null;
}

interface PendingEntry {
  id: string;
  idleMs: number;
  deliveries: number;
}

function retryDelay(baseMs: number, attempt: number): number {
  return Math.min(baseMs * 2 ** (attempt - 1), Math.max(baseMs, MAX_RETRY_DELAY_MS));
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function hasMessage(error: unknown, text: string): boolean {
  return error instanceof Error && error.message.includes(text);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function parseEntries(value: unknown): StreamEntry[] {
  if (!Array.isArray(value)) return [];
  const entries: StreamEntry[] = [];
  for (const item of value) {
    if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
    const fields: unknown = item[1];
    entries.push({ id: item[0], fields: isStringArray(fields) ? fields : null });
  }
  return entries;
}

/**
 * XREADGROUP: null on timeout, else per stream its key and [[id, [field, value, ...]], ...]. RESP2 sends
 * [[key, entries], ...]; RESP3 sends a map, which ioredis hands over as [key, entries, ...] by default or
 * as an object with `replyMapping: 'resp3'`.
 */
function parseReadReply(value: unknown): Array<{ key: string; entries: StreamEntry[] }> {
  const streams: Array<{ key: string; entries: StreamEntry[] }> = [];
  if (Array.isArray(value)) {
    if (typeof value[0] === 'string') {
      for (let i = 0; i + 1 < value.length; i += 2) {
        const key: unknown = value[i];
        if (typeof key === 'string') streams.push({ key, entries: parseEntries(value[i + 1]) });
      }
      return streams;
    }
    for (const item of value) {
      if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
      streams.push({ key: item[0], entries: parseEntries(item[1]) });
    }
    return streams;
  }
  if (value instanceof Map) {
    for (const [key, entries] of value)
      if (typeof key === 'string') streams.push({ key, entries: parseEntries(entries) });
    return streams;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, entries] of Object.entries(value)) streams.push({ key, entries: parseEntries(entries) });
  }
  return streams;
}

/** XPENDING extended form: [[id, consumer, idle ms, delivery count], ...]. */
function parsePending(value: unknown): PendingEntry[] {
  if (!Array.isArray(value)) return [];
  const entries: PendingEntry[] = [];
  for (const item of value) {
    if (!Array.isArray(item)) continue;
    const [id, , idle, count] = item as unknown[];
    if (typeof id !== 'string' || typeof idle !== 'number' || typeof count !== 'number') continue;
    entries.push({ id, idleMs: idle, deliveries: count });
  }
  return entries;
}

function decodeEvent(fields: string[]): EventEnvelope {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] ?? '', fields[i + 1] ?? '');
  const id = map.get('id');
  const type = map.get('type');
  const occurredAt = map.get('occurredAt');
  const payload = map.get('payload');
  if (id === undefined || type === undefined || occurredAt === undefined || payload === undefined) {
    throw new Error('malformed stream entry: missing id, type, occurredAt or payload');
  }
  return { id, type, occurredAt, payload: JSON.parse(payload) as unknown };
}

/**
 * Redis Streams with consumer groups. Each subscription is one consumer of its group on every stream of
 * its types: a dedicated connection blocks in XREADGROUP for new entries while a timer loop on the shared
 * connection re-runs failed or abandoned entries (XPENDING for their idle time and delivery count, then
 * XCLAIM, which also guarantees one claimer) and parks entries that used up `maxAttempts`.
 */
export function createRedisStreamsTransport(options: RedisStreamsTransportOptions): EventTransport {
  const { url, prefix } = options;
  const blockMs = options.blockMs ?? 1_000;
  const consumerBase = `${options.consumerName ?? hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const redis = createRedisClient(url, { name: `${prefix}:events` });
  const subscriptions = new Set<Subscription>();
  let subscriptionCount = 0;
  let closed = false;

  const report = (error: unknown, context: string) => {
    if (options.logger) options.logger.warn({ err: error }, `event transport: ${context}`);
    else console.warn(`[event transport] ${context}: ${describeError(error)}`);
  };
  redis.on('error', (error: unknown) => report(error, 'redis connection'));

  const streamKey = (type: string) => `${prefix}:events:${type}`;

  const ensureGroup = async (key: string, group: string) => {
    try {
      // '$': a new group starts with the events published after it exists.
      await redis.call('XGROUP', 'CREATE', key, group, '$', 'MKSTREAM');
    } catch (error) {
      if (!hasMessage(error, 'BUSYGROUP')) throw error;
    }
  };

  const subscribe = async (
    handler: EventHandler,
    subscribeOptions: SubscribeOptions,
  ): Promise<Subscription> => {
    if (closed) throw new Error('event transport is closed');
    const { group } = subscribeOptions;
    const maxAttempts = subscribeOptions.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    const baseDelayMs = subscribeOptions.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
    if (!(maxAttempts >= 1)) throw new RangeError(`maxAttempts must be at least 1, got ${maxAttempts}`);
    if (!(baseDelayMs >= 0)) throw new RangeError(`retryDelayMs must not be negative, got ${baseDelayMs}`);
    const keys = [...new Set(subscribeOptions.types)].map(streamKey);
    const consumer = `${consumerBase}-${++subscriptionCount}`;
    const deadKey = `${prefix}:dead:${group}`;
    const tickMs = Math.min(Math.max(Math.floor(baseDelayMs / 2), 10), 1_000);

    for (const key of keys) await ensureGroup(key, group);

    // Blocking reads would stall every command queued behind them on a shared connection.
    const blocking = createRedisClient(url, { name: `${prefix}:events:${group}:${consumer}` });
    let stopping = false;
    blocking.on('error', (error: unknown) => {
      if (!stopping) report(error, `blocking connection of ${consumer}`);
    });
    /** Server-side id of the blocking connection, for CLIENT UNBLOCK; it changes on every reconnect. */
    let clientId: number | undefined;
    blocking.on('close', () => {
      clientId = undefined;
    });
    let reading = false;

    /** Entries this consumer has taken and not yet finished: kept alive, and never reclaimed by itself. */
    const held = new Map<string, { key: string; id: string }>();
    const heldKey = (key: string, id: string) => `${key} ${id}`;

    const wakers = new Set<() => void>();
    const pause = (ms: number) =>
      new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          wakers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        wakers.add(done);
      });

    // New and reclaimed entries go through one queue: a consumer handles one event at a time.
    let chain: Promise<void> = Promise.resolve();
    const serial = (task: () => Promise<void>): Promise<void> => {
      const run = chain.then(task);
      chain = run.catch(() => undefined);
      return run;
    };

    const park = async (key: string, id: string, fields: string[], attempts: number, error: unknown) => {
      const result = await redis
        .multi()
        .call(
          'XADD',
          deadKey,
          'MAXLEN',
          '~',
          STREAM_MAX_LEN,
          '*',
          'stream',
          key,
          'entryId',
          id,
          'group',
          group,
          'attempts',
          attempts,
          'error',
          describeError(error),
          'parkedAt',
          new Date().toISOString(),
          ...fields,
        )
        .call('XACK', key, group, id)
        .exec();
      const failed = result?.find(([commandError]) => commandError)?.[0];
      if (failed) throw failed;
    };

    const handleEntry = async (key: string, entry: StreamEntry, attempt: number) => {
      try {
        if (entry.fields === null) {
          await redis.call('XACK', key, group, entry.id);
          return;
        }
        let event: EventEnvelope;
        try {
          event = decodeEvent(entry.fields);
        } catch (error) {
          await park(key, entry.id, entry.fields, attempt, error);
          return;
        }
        try {
          await handler({ ...event, deliveryAttempt: attempt });
        } catch (error) {
          if (attempt >= maxAttempts) {
            await park(key, entry.id, entry.fields, attempt, error);
          } else {
            // Restarts the entry's idle clock, so its retry delay counts from this failure.
            await redis.call('XCLAIM', key, group, consumer, 0, entry.id, 'JUSTID');
          }
          return;
        }
        await redis.call('XACK', key, group, entry.id);
      } catch (error) {
        // The entry stays pending and comes back through reclaim.
        report(error, `handling ${entry.id} of ${key}`);
      } finally {
        held.delete(heldKey(key, entry.id));
      }
    };

    const readLoop = async () => {
      let failures = 0;
      while (!stopping) {
        let reply: unknown;
        try {
          if (clientId === undefined) {
            const id = await blocking.call('CLIENT', 'ID');
            clientId = typeof id === 'number' ? id : undefined;
          }
          if (stopping) break;
          reading = true;
          reply = await blocking.call(
            'XREADGROUP',
            'GROUP',
            group,
            consumer,
            'COUNT',
            READ_COUNT,
            'BLOCK',
            blockMs,
            'STREAMS',
            ...keys,
            ...keys.map(() => '>'),
          );
          failures = 0;
        } catch (error) {
          reading = false;
          if (stopping) break;
          failures++;
          if (hasMessage(error, 'NOGROUP')) {
            // Someone deleted a stream or the group: recreate and go on with new events.
            await Promise.all(keys.map((key) => ensureGroup(key, group))).catch((cause: unknown) =>
              report(cause, 'recreating groups'),
            );
          } else {
            report(error, `reading ${keys.join(', ')}`);
          }
          await pause(Math.min(100 * 2 ** failures, 5_000));
          continue;
        }
        reading = false;
        // Processed even when closing started meanwhile: these entries are already ours, and dropping them
        // would only delay them and count an attempt that never ran.
        const work = parseReadReply(reply).flatMap(({ key, entries }) =>
          entries.map((entry) => ({ key, entry })),
        );
        for (const { key, entry } of work) held.set(heldKey(key, entry.id), { key, id: entry.id });
        await serial(async () => {
          for (const { key, entry } of work) await handleEntry(key, entry, 1);
        });
      }
    };

    const heartbeat = async () => {
      const byKey = new Map<string, string[]>();
      for (const { key, id } of held.values()) byKey.set(key, [...(byKey.get(key) ?? []), id]);
      for (const [key, ids] of byKey) {
        await redis.call('XCLAIM', key, group, consumer, 0, ...ids, 'JUSTID');
      }
    };

    const reclaim = async () => {
      for (const key of keys) {
        const pending = parsePending(
          await redis.call('XPENDING', key, group, 'IDLE', baseDelayMs, '-', '+', RECLAIM_COUNT),
        );
        for (const { id, idleMs, deliveries } of pending) {
          if (stopping) return;
          if (held.has(heldKey(key, id))) continue;
          const minIdleMs = deliveries >= maxAttempts ? baseDelayMs : retryDelay(baseDelayMs, deliveries);
          if (idleMs < minIdleMs) continue;
          // XCLAIM re-checks the idle time, so of several consumers only one gets the entry.
          const claimed = parseEntries(await redis.call('XCLAIM', key, group, consumer, minIdleMs, id));
          for (const entry of claimed) {
            if (deliveries >= maxAttempts) {
              // Its last attempt never acknowledged (the consumer died): park without running it again.
              if (entry.fields) await park(key, entry.id, entry.fields, deliveries, 'attempts exhausted');
              continue;
            }
            held.set(heldKey(key, entry.id), { key, id: entry.id });
            await serial(() => handleEntry(key, entry, deliveries + 1));
          }
        }
      }
    };

    const reclaimLoop = async () => {
      while (!stopping) {
        await pause(tickMs);
        if (stopping) break;
        try {
          await heartbeat();
          await reclaim();
        } catch (error) {
          if (!stopping) report(error, `reclaiming pending entries of ${consumer}`);
        }
      }
    };

    const dropConsumerIfIdle = async () => {
      for (const key of keys) {
        const mine = await redis.call('XPENDING', key, group, '-', '+', 1, consumer);
        // Deleting a consumer drops its pending entries: keep it while it owns any.
        if (Array.isArray(mine) && mine.length > 0) return;
      }
      for (const key of keys) await redis.call('XGROUP', 'DELCONSUMER', key, group, consumer);
    };

    const loops = keys.length > 0 ? Promise.all([readLoop(), reclaimLoop()]) : Promise.resolve();

    let closing: Promise<void> | undefined;
    const subscription: Subscription = {
      close: () =>
        (closing ??= (async () => {
          stopping = true;
          for (const wake of wakers) wake();
          // CLIENT UNBLOCK ends a blocked XREADGROUP now, as if BLOCK had timed out. Dropping the connection
          // instead would race the server: it could still hand the read entries nobody then handles. A read
          // sent but not yet blocking when UNBLOCK arrives is why this repeats.
          for (let i = 0; reading && i < 50; i++) {
            if (clientId !== undefined) {
              await redis
                .call('CLIENT', 'UNBLOCK', clientId, 'TIMEOUT')
                .catch((error: unknown) => report(error, `unblocking ${consumer}`));
            }
            if (reading) await sleep(10);
          }
          if (reading) blocking.disconnect();
          await loops;
          await chain;
          await blocking.quit().catch(() => blocking.disconnect());
          if (keys.length > 0) {
            await dropConsumerIfIdle().catch((error: unknown) => report(error, `removing ${consumer}`));
          }
          subscriptions.delete(subscription);
        })()),
    };
    subscriptions.add(subscription);
    return subscription;
  };

  return {
    async publish(event: EventEnvelope) {
      if (closed) throw new Error('event transport is closed');
      await redis.call(
        'XADD',
        streamKey(event.type),
        'MAXLEN',
        '~',
        STREAM_MAX_LEN,
        '*',
        'id',
        event.id,
        'type',
        event.type,
        'occurredAt',
        event.occurredAt,
        'payload',
        JSON.stringify(event.payload ?? null),
      );
    },

    subscribe,

    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...subscriptions].map((subscription) => subscription.close()));
      await redis.quit();
    },
  };
}
