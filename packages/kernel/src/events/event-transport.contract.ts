import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveredEvent, EventEnvelope, EventTransport } from './event-transport.js';

export function makeEvent(type: string, payload: unknown = {}): EventEnvelope {
  return { id: randomUUID(), type, occurredAt: new Date().toISOString(), payload };
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** A promise the test resolves by hand, to hold a handler in flight. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Long enough for a wrongly scheduled delivery or retry to show up. */
const QUIET_MS = 250;

/**
 * The delivery semantics every EventTransport adapter must share. `make` returns a fresh transport per
 * test (its own namespace); the suite closes it afterwards. Undefined means the adapter cannot run here:
 * callers decide whether to register the suite at all, so reaching a test without one is an error.
 */
export function eventTransportContract(name: string, make: () => Promise<EventTransport | undefined>): void {
  describe(`EventTransport contract: ${name}`, () => {
    let transport: EventTransport;

    beforeEach(async () => {
      const made = await make();
      if (!made) throw new Error(`${name}: no adapter to test`);
      transport = made;
    });

    afterEach(async () => {
      await transport?.close();
    });

    it('delivers the envelope of a subscribed type with deliveryAttempt 1, and no other types', async () => {
      const received: DeliveredEvent[] = [];
      await transport.subscribe(async (event) => void received.push(event), {
        group: 'g',
        types: ['test.Created'],
      });
      const event = makeEvent('test.Created', { user: { id: 7, tags: ['a', 'b'] }, note: 'ü 🦊' });
      await transport.publish(makeEvent('test.Other'));
      await transport.publish(event);
      await waitFor(() => received.length >= 1, 'the event');
      await sleep(QUIET_MS);
      expect(received).toEqual([{ ...event, deliveryAttempt: 1 }]);
    });

    it('delivers every event to every group, once per group', async () => {
      const byGroup: Record<string, string[]> = { a: [], b: [] };
      for (const group of ['a', 'b']) {
        await transport.subscribe(async (event) => void byGroup[group]?.push(event.id), {
          group,
          types: ['test.Happened'],
        });
      }
      const events = [1, 2, 3].map((n) => makeEvent('test.Happened', { n }));
      for (const event of events) await transport.publish(event);
      await waitFor(() => byGroup.a?.length === 3 && byGroup.b?.length === 3, 'both groups');
      await sleep(QUIET_MS);
      expect(byGroup.a).toEqual(events.map((event) => event.id));
      expect(byGroup.b).toEqual(events.map((event) => event.id));
    });

    it('shares a group between its members: each event is handled once, by whichever member is free', async () => {
      const handled: Array<{ member: number; id: string }> = [];
      const held = gate();
      const e1 = makeEvent('test.Work', { n: 1 });
      for (const member of [1, 2]) {
        await transport.subscribe(
          async (event) => {
            handled.push({ member, id: event.id });
            if (event.id === e1.id) await held.promise;
          },
          { group: 'shared', types: ['test.Work'] },
        );
      }
      await transport.publish(e1);
      await waitFor(() => handled.length === 1, 'the first event to start');
      const e2 = makeEvent('test.Work', { n: 2 });
      await transport.publish(e2);
      // The member holding e1 is busy, so e2 can only be handled by the other one.
      await waitFor(() => handled.length === 2, 'the second event, while the first is held');
      const busy = handled[0]?.member;
      expect(handled[1]).toEqual({ member: busy === 1 ? 2 : 1, id: e2.id });
      held.open();

      const rest = Array.from({ length: 10 }, (_, n) => makeEvent('test.Work', { n: n + 3 }));
      for (const event of rest) await transport.publish(event);
      await waitFor(() => handled.length >= 12, 'all events');
      await sleep(QUIET_MS);
      const ids = handled.map((entry) => entry.id);
      expect(ids).toHaveLength(12);
      expect(new Set(ids)).toEqual(new Set([e1, e2, ...rest].map((event) => event.id)));
    });

    it('redelivers a failed event with a higher deliveryAttempt after a growing delay, until it succeeds', async () => {
      const attempts: Array<{ attempt: number; at: number }> = [];
      await transport.subscribe(
        async (event) => {
          attempts.push({ attempt: event.deliveryAttempt, at: performance.now() });
          if (event.deliveryAttempt < 3) throw new Error(`failure ${event.deliveryAttempt}`);
        },
        { group: 'retrying', types: ['test.Flaky'], retryDelayMs: 40, maxAttempts: 5 },
      );
      await transport.publish(makeEvent('test.Flaky'));
      await waitFor(() => attempts.length >= 3, 'three attempts');
      await sleep(QUIET_MS);
      expect(attempts.map((entry) => entry.attempt)).toEqual([1, 2, 3]);
      const [a1, a2, a3] = attempts.map((entry) => entry.at);
      const firstGap = (a2 ?? 0) - (a1 ?? 0);
      const secondGap = (a3 ?? 0) - (a2 ?? 0);
      // 40 ms, then 80 ms (a little slack for timer granularity).
      expect(firstGap).toBeGreaterThanOrEqual(35);
      expect(secondGap).toBeGreaterThanOrEqual(75);
      expect(secondGap).toBeGreaterThan(firstGap);
    });

    it('does not hold back later events while a failed one waits for its retry', async () => {
      const seen: string[] = [];
      await transport.subscribe(
        async (event) => {
          const { n } = event.payload as { n: number };
          seen.push(`${n}@${event.deliveryAttempt}`);
          if (n === 1 && event.deliveryAttempt === 1) throw new Error('first try fails');
        },
        { group: 'g', types: ['test.Seq'], retryDelayMs: 300 },
      );
      await transport.publish(makeEvent('test.Seq', { n: 1 }));
      await waitFor(() => seen.length === 1, 'the failing attempt');
      await transport.publish(makeEvent('test.Seq', { n: 2 }));
      await waitFor(() => seen.length === 3, 'the retry');
      expect(seen).toEqual(['1@1', '2@1', '1@2']);
    });

    it('parks an event after maxAttempts and never runs it again, while the group goes on', async () => {
      const calls: number[] = [];
      const ok: string[] = [];
      await transport.subscribe(
        async (event) => {
          if (event.type === 'test.Poison') {
            calls.push(event.deliveryAttempt);
            throw new Error('always fails');
          }
          ok.push(event.id);
        },
        { group: 'g', types: ['test.Poison', 'test.Fine'], retryDelayMs: 20, maxAttempts: 3 },
      );
      await transport.publish(makeEvent('test.Poison'));
      await waitFor(() => calls.length >= 3, 'three attempts');
      // The next retry would have come after 80 ms.
      await sleep(QUIET_MS);
      expect(calls).toEqual([1, 2, 3]);

      const fine = makeEvent('test.Fine');
      await transport.publish(fine);
      await waitFor(() => ok.length === 1, 'the next event');
      expect(ok).toEqual([fine.id]);
      expect(calls).toEqual([1, 2, 3]);
    });

    it('does not deliver events published before the group was created', async () => {
      const early = makeEvent('test.Late', { n: 0 });
      await transport.publish(early);
      const firstGroup: string[] = [];
      await transport.subscribe(async (event) => void firstGroup.push(event.id), {
        group: 'first',
        types: ['test.Late'],
      });
      const middle = makeEvent('test.Late', { n: 1 });
      await transport.publish(middle);
      await waitFor(() => firstGroup.length === 1, 'the first group');

      const secondGroup: string[] = [];
      await transport.subscribe(async (event) => void secondGroup.push(event.id), {
        group: 'second',
        types: ['test.Late'],
      });
      const late = makeEvent('test.Late', { n: 2 });
      await transport.publish(late);
      await waitFor(() => firstGroup.length === 2 && secondGroup.length === 1, 'both groups');
      await sleep(QUIET_MS);
      expect(firstGroup).toEqual([middle.id, late.id]);
      expect(secondGroup).toEqual([late.id]);
    });

    it('keeps events for a group while it has no subscriber', async () => {
      const before: string[] = [];
      const subscription = await transport.subscribe(async (event) => void before.push(event.id), {
        group: 'durable',
        types: ['test.Kept'],
      });
      await subscription.close();
      const kept = makeEvent('test.Kept');
      await transport.publish(kept);

      const after: DeliveredEvent[] = [];
      await transport.subscribe(async (event) => void after.push(event), {
        group: 'durable',
        types: ['test.Kept'],
      });
      await waitFor(() => after.length === 1, 'the kept event');
      expect(before).toEqual([]);
      expect(after[0]?.id).toBe(kept.id);
      expect(after[0]?.deliveryAttempt).toBe(1);
    });

    it('delivers events of one type to a single consumer in publication order', async () => {
      const received: number[] = [];
      await transport.subscribe(
        async (event) => {
          received.push((event.payload as { n: number }).n);
          // Uneven handler times must not reorder anything.
          if (received.length % 3 === 0) await sleep(2);
        },
        { group: 'ordered', types: ['test.Ordered'] },
      );
      const count = 40;
      for (let n = 0; n < count; n++) await transport.publish(makeEvent('test.Ordered', { n }));
      await waitFor(() => received.length >= count, 'all events');
      expect(received).toEqual(Array.from({ length: count }, (_, n) => n));
    });

    it('closing a subscription lets the in-flight handler finish, then stops delivery', async () => {
      const started: string[] = [];
      const finished: string[] = [];
      const held = gate();
      const subscription = await transport.subscribe(
        async (event) => {
          started.push(event.id);
          await held.promise;
          finished.push(event.id);
        },
        { group: 'closing', types: ['test.Closing'] },
      );
      const first = makeEvent('test.Closing');
      await transport.publish(first);
      await waitFor(() => started.length === 1, 'the handler to start');

      let closed = false;
      const closing = subscription.close().then(() => {
        closed = true;
      });
      await sleep(50);
      expect(closed).toBe(false);
      held.open();
      await closing;
      expect(finished).toEqual([first.id]);

      await transport.publish(makeEvent('test.Closing'));
      await sleep(QUIET_MS);
      expect(started).toEqual([first.id]);
    });

    it('closing the transport stops every subscription and refuses to publish', async () => {
      const received: string[] = [];
      for (const group of ['x', 'y']) {
        await transport.subscribe(async (event) => void received.push(`${group}:${event.id}`), {
          group,
          types: ['test.End'],
        });
      }
      const event = makeEvent('test.End');
      await transport.publish(event);
      await waitFor(() => received.length === 2, 'both groups');
      const started = performance.now();
      await transport.close();
      expect(performance.now() - started).toBeLessThan(2_000);
      await expect(transport.publish(makeEvent('test.End'))).rejects.toThrow();
      expect(received.sort()).toEqual([`x:${event.id}`, `y:${event.id}`]);
    });
  });
}
