/**
 * A push-based async iterator with a bounded buffer: the producer pushes, the consumer (a WebSocket or SSE
 * stream) pulls. A consumer that falls `capacity` results behind is ended instead of growing memory.
 */
export class PushQueue<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: Array<(result: IteratorResult<T>) => void> = [];
  private done = false;

  constructor(
    private readonly options: { capacity: number; onOverflow: () => T | undefined; onReturn: () => void },
  ) {}

  push(value: T): void {
    if (this.done) return;
    const waiter = this.waiting.shift();
    if (waiter) return waiter({ value, done: false });
    if (this.buffer.length >= this.options.capacity) {
      const last = this.options.onOverflow();
      this.buffer.length = 0;
      if (last !== undefined) this.buffer.push(last);
      this.end();
      return;
    }
    this.buffer.push(value);
  }

  /** Ends after what is buffered has been read. */
  end(): void {
    if (this.done) return;
    this.done = true;
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
    this.options.onReturn();
  }

  get ended(): boolean {
    return this.done;
  }

  next(): Promise<IteratorResult<T>> {
    const value = this.buffer.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.end();
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
