import type { Cache } from './cache.js';

interface Entry {
  value: string;
  /** Epoch ms; absent for keys without expiry. */
  expiresAt?: number;
}

const PURGE_INTERVAL_MS = 30_000;
const INTEGER = /^-?\d+$/;

/** Same rules as the Redis adapter, where PX refuses zero, negative and fractional values. */
function normalizeTtl(ttlMs: number | undefined): number | undefined {
  if (ttlMs === undefined) return undefined;
  if (!Number.isFinite(ttlMs) || ttlMs <= 0)
    throw new RangeError(`ttlMs must be a positive number, got ${ttlMs}`);
  return Math.ceil(ttlMs);
}

/** The in-process cache of the embedded profile. */
export function createMemoryCache(): Cache {
  const entries = new Map<string, Entry>();
  let closed = false;

  const purge = () => {
    const now = Date.now();
    for (const [key, entry] of entries) {
      if (entry.expiresAt !== undefined && entry.expiresAt <= now) entries.delete(key);
    }
  };
  // Lazy expiry alone would keep keys that are written once and never read again.
  const timer = setInterval(purge, PURGE_INTERVAL_MS);
  timer.unref();

  const live = (key: string): Entry | undefined => {
    if (closed) throw new Error('cache is closed');
    const entry = entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      entries.delete(key);
      return undefined;
    }
    return entry;
  };

  const store = (key: string, value: string, ttlMs: number | undefined) => {
    entries.set(key, ttlMs === undefined ? { value } : { value, expiresAt: Date.now() + ttlMs });
  };

  return {
    async get(key) {
      return live(key)?.value;
    },

    async set(key, value, options) {
      const ttlMs = normalizeTtl(options?.ttlMs);
      live(key);
      store(key, value, ttlMs);
    },

    async setIfAbsent(key, value, options) {
      const ttlMs = normalizeTtl(options?.ttlMs);
      if (live(key)) return false;
      store(key, value, ttlMs);
      return true;
    },

    async take(key) {
      const entry = live(key);
      if (!entry) return undefined;
      entries.delete(key);
      return entry.value;
    },

    async delete(key) {
      live(key);
      entries.delete(key);
    },

    async increment(key, options) {
      const by = options?.by ?? 1;
      if (!Number.isSafeInteger(by)) throw new RangeError(`increment must be an integer, got ${by}`);
      const ttlMs = normalizeTtl(options?.ttlMs);
      const entry = live(key);
      if (!entry) {
        store(key, String(by), ttlMs);
        return by;
      }
      if (!INTEGER.test(entry.value)) throw new Error(`value of ${key} is not an integer`);
      const next = Number(entry.value) + by;
      if (!Number.isSafeInteger(next)) throw new RangeError(`increment of ${key} is out of range`);
      // The expiry is kept: a window starts at its first hit.
      entry.value = String(next);
      return next;
    },

    async ttl(key) {
      const entry = live(key);
      if (entry?.expiresAt === undefined) return undefined;
      return Math.max(0, entry.expiresAt - Date.now());
    },

    async close() {
      closed = true;
      clearInterval(timer);
      entries.clear();
    },
  };
}
