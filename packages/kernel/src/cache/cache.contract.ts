import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Cache } from './cache.js';

/**
 * The behaviour every Cache adapter must share. `make` returns a fresh, empty cache per test (its own key
 * namespace); the suite closes it afterwards. Undefined means the adapter cannot run here: callers decide
 * whether to register the suite at all, so reaching a test without an adapter is an error.
 */
export function cacheContract(name: string, make: () => Promise<Cache | undefined>): void {
  describe(`Cache contract: ${name}`, () => {
    let cache: Cache;

    beforeEach(async () => {
      const made = await make();
      if (!made) throw new Error(`${name}: no adapter to test`);
      cache = made;
    });

    afterEach(async () => {
      await cache?.close();
    });

    it('stores, overwrites and deletes values', async () => {
      expect(await cache.get('a')).toBeUndefined();
      await cache.set('a', 'one');
      expect(await cache.get('a')).toBe('one');
      await cache.set('a', 'two');
      expect(await cache.get('a')).toBe('two');
      await cache.delete('a');
      expect(await cache.get('a')).toBeUndefined();
      await cache.delete('never-set');
    });

    it('expires a key after its ttl and reports the remaining ttl', async () => {
      await cache.set('short', 'v', { ttlMs: 100 });
      await cache.set('forever', 'v');
      expect(await cache.get('short')).toBe('v');
      const remaining = await cache.ttl('short');
      expect(remaining).toBeGreaterThan(0);
      expect(remaining).toBeLessThanOrEqual(100);
      expect(await cache.ttl('forever')).toBeUndefined();
      expect(await cache.ttl('missing')).toBeUndefined();

      await sleep(150);
      expect(await cache.get('short')).toBeUndefined();
      expect(await cache.ttl('short')).toBeUndefined();
      expect(await cache.get('forever')).toBe('v');
    });

    it('set without ttl removes an earlier expiry', async () => {
      await cache.set('k', 'old', { ttlMs: 80 });
      await cache.set('k', 'new');
      expect(await cache.ttl('k')).toBeUndefined();
      await sleep(120);
      expect(await cache.get('k')).toBe('new');
    });

    it('rejects a ttl that is not positive', async () => {
      await expect(cache.set('k', 'v', { ttlMs: 0 })).rejects.toThrow(RangeError);
      await expect(cache.set('k', 'v', { ttlMs: -5 })).rejects.toThrow(RangeError);
      expect(await cache.get('k')).toBeUndefined();
    });

    it('setIfAbsent stores only when the key is absent', async () => {
      expect(await cache.setIfAbsent('lock', 'first', { ttlMs: 100 })).toBe(true);
      expect(await cache.setIfAbsent('lock', 'second', { ttlMs: 100 })).toBe(false);
      expect(await cache.get('lock')).toBe('first');
      const remaining = await cache.ttl('lock');
      expect(remaining).toBeGreaterThan(0);
      expect(remaining).toBeLessThanOrEqual(100);

      await sleep(150);
      expect(await cache.setIfAbsent('lock', 'third')).toBe(true);
      expect(await cache.get('lock')).toBe('third');
      expect(await cache.ttl('lock')).toBeUndefined();
    });

    it('setIfAbsent lets exactly one of many concurrent callers win', async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => cache.setIfAbsent('race', `caller-${i}`)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = results.indexOf(true);
      expect(await cache.get('race')).toBe(`caller-${winner}`);
    });

    it('take reads and deletes', async () => {
      await cache.set('t', 'value');
      expect(await cache.take('t')).toBe('value');
      expect(await cache.take('t')).toBeUndefined();
      expect(await cache.get('t')).toBeUndefined();
      expect(await cache.take('never-set')).toBeUndefined();
    });

    it('take is atomic: of concurrent takes only one gets the value', async () => {
      for (let round = 0; round < 5; round++) {
        await cache.set('once', `v${round}`);
        const taken = await Promise.all(Array.from({ length: 10 }, () => cache.take('once')));
        expect(taken.filter((value) => value !== undefined)).toEqual([`v${round}`]);
      }
    });

    it('take of an expired key returns nothing', async () => {
      await cache.set('gone', 'v', { ttlMs: 50 });
      await sleep(90);
      expect(await cache.take('gone')).toBeUndefined();
    });

    it('increment creates, adds and returns the new value', async () => {
      expect(await cache.increment('n')).toBe(1);
      expect(await cache.increment('n')).toBe(2);
      expect(await cache.increment('n', { by: 5 })).toBe(7);
      expect(await cache.increment('n', { by: -10 })).toBe(-3);
      expect(await cache.get('n')).toBe('-3');
      expect(await cache.ttl('n')).toBeUndefined();
      expect(await cache.increment('other', { by: 4 })).toBe(4);
    });

    it('increments concurrently without losing updates', async () => {
      await Promise.all(Array.from({ length: 20 }, () => cache.increment('hits', { ttlMs: 5_000 })));
      expect(await cache.get('hits')).toBe('20');
    });

    it('increment applies ttl at creation only: later hits do not extend the window', async () => {
      expect(await cache.increment('window', { ttlMs: 200 })).toBe(1);
      await sleep(100);
      expect(await cache.increment('window', { ttlMs: 200 })).toBe(2);
      const remaining = await cache.ttl('window');
      expect(remaining).toBeGreaterThan(0);
      // Extended, it would be close to 200 again.
      expect(remaining).toBeLessThanOrEqual(130);

      await sleep(150);
      expect(await cache.get('window')).toBeUndefined();
      expect(await cache.increment('window', { ttlMs: 200 })).toBe(1);
    });

    it('increment of a counter created without ttl does not gain one later', async () => {
      await cache.increment('plain');
      await cache.increment('plain', { ttlMs: 50 });
      expect(await cache.ttl('plain')).toBeUndefined();
    });

    it('increment keeps the expiry of a key set with a ttl', async () => {
      await cache.set('preset', '10', { ttlMs: 100 });
      expect(await cache.increment('preset')).toBe(11);
      expect(await cache.ttl('preset')).toBeGreaterThan(0);
      await sleep(150);
      expect(await cache.get('preset')).toBeUndefined();
    });

    it('increment rejects a value that is not an integer', async () => {
      await cache.set('text', 'hello');
      await expect(cache.increment('text')).rejects.toThrow();
      expect(await cache.get('text')).toBe('hello');
      await expect(cache.increment('n', { by: 1.5 })).rejects.toThrow(RangeError);
    });

    it('keeps values as exact strings', async () => {
      const value = JSON.stringify({ emoji: '🦊', nested: { list: [1, 2, 3] }, empty: '' });
      await cache.set('json', value);
      expect(await cache.get('json')).toBe(value);
      await cache.set('empty', '');
      expect(await cache.get('empty')).toBe('');
      expect(await cache.take('empty')).toBe('');
    });
  });
}
