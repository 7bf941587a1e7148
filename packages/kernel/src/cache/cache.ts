/**
 * A key/value cache with expiry. Redis in the services profile, an in-process map in the embedded one.
 * Values are strings: callers serialise what they store, so both adapters behave identically.
 */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  /** Stores `value`; with `ttlMs` the key disappears after that many milliseconds. */
  set(key: string, value: string, options?: { ttlMs?: number }): Promise<void>;
  /** Stores `value` only when the key is absent; resolves true when it was stored. */
  setIfAbsent(key: string, value: string, options?: { ttlMs?: number }): Promise<boolean>;
  /** Reads and deletes atomically: of two concurrent takes of one key, only one sees the value. */
  take(key: string): Promise<string | undefined>;
  delete(key: string): Promise<void>;
  /**
   * Adds `by` (default 1) to an integer counter and returns the new value. `ttlMs` is applied when the
   * counter is created, so a window starts at its first hit and is not extended by later ones.
   */
  increment(key: string, options?: { by?: number; ttlMs?: number }): Promise<number>;
  /** Milliseconds until the key expires; undefined when it is absent or has no expiry. */
  ttl(key: string): Promise<number | undefined>;
  close(): Promise<void>;
}
