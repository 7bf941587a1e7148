import type { Logger } from 'pino';
import type {
  DeliveredEvent,
  EventEnvelope,
  EventHandler,
  EventTransport,
  SubscribeOptions,
  Subscription,
} from './event-transport.js';

const DEFAULT_MAX_ATTEMPTS = 10;
const DEFAULT_RETRY_DELAY_MS = 1_000;
const MAX_RETRY_DELAY_MS = 5 * 60_000;
/** Same bound as the Redis adapter's stream length: a group nobody consumes must not grow forever. */
const MAX_PENDING_PER_QUEUE = 100_000;

interface Pending {
  /** Publication order, so a member drains the oldest ready event across all its types first. */
  seq: number;
  id: string;
  type: string;
  occurredAt: string;
  /** Kept serialised, as on the wire: every delivery gets a fresh copy, like the Redis adapter. */
  payload: string;
  /** Deliveries so far. */
  attempts: number;
  availableAt: number;
  claimed: boolean;
}

interface Group {
  name: string;
  /** One queue per event type the group has subscribed to; created on first subscribe. */
  queues: Map<string, Pending[]>;
  members: Set<Member>;
  /** The next retry wake-up, one per group: the earliest one covers every later retry too. */
  wake?: { at: number; timer: NodeJS.Timeout };
}

interface Member {
  group: Group;
  types: ReadonlySet<string>;
  handler: EventHandler;
  maxAttempts: number;
  retryDelayMs: number;
  busy: boolean;
  closed: boolean;
  current?: Promise<void>;
}

function retryDelay(baseMs: number, attempt: number): number {
  return Math.min(baseMs * 2 ** (attempt - 1), Math.max(baseMs, MAX_RETRY_DELAY_MS));
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The in-process transport of the embedded profile, with the delivery semantics of the Redis Streams one:
 * a group exists per type from its first subscribe, every group gets every later event, members of a
 * group share its events, each member handles one event at a time, failures are retried with a doubling
 * delay and parked after `maxAttempts` deliveries.
 */
export function createMemoryEventTransport(options: { logger?: Logger } = {}): EventTransport {
  const groups = new Map<string, Group>();
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;
  let closed = false;

  const pick = (member: Member): Pending | undefined => {
    const now = Date.now();
    let best: Pending | undefined;
    for (const type of member.types) {
      for (const pending of member.group.queues.get(type) ?? []) {
        if (pending.claimed || pending.availableAt > now) continue;
        if (!best || pending.seq < best.seq) best = pending;
        break;
      }
    }
    return best;
  };

  const remove = (group: Group, pending: Pending) => {
    const queue = group.queues.get(pending.type);
    const index = queue?.indexOf(pending) ?? -1;
    if (queue && index >= 0) queue.splice(index, 1);
  };

  const kick = (group: Group) => {
    for (const member of group.members) queueMicrotask(() => void drain(member));
  };

  const wakeAt = (group: Group, at: number) => {
    if (group.wake && group.wake.at <= at) return;
    if (group.wake) {
      clearTimeout(group.wake.timer);
      timers.delete(group.wake.timer);
    }
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        if (group.wake?.timer === timer) group.wake = undefined;
        kick(group);
      },
      Math.max(0, at - Date.now()),
    );
    // A pending retry alone must not keep the process alive.
    timer.unref();
    timers.add(timer);
    group.wake = { at, timer };
  };

  /** Timers may fire a little before Date.now() reaches their target: then try again for what is left. */
  const wakeForNextRetry = (member: Member) => {
    let next: number | undefined;
    for (const type of member.types) {
      for (const pending of member.group.queues.get(type) ?? []) {
        if (
          !pending.claimed &&
          pending.availableAt > 0 &&
          (next === undefined || pending.availableAt < next)
        ) {
          next = pending.availableAt;
        }
      }
    }
    if (next !== undefined) wakeAt(member.group, next);
  };

  const deliver = async (member: Member, pending: Pending) => {
    const event: DeliveredEvent = {
      id: pending.id,
      type: pending.type,
      occurredAt: pending.occurredAt,
      payload: JSON.parse(pending.payload) as unknown,
      deliveryAttempt: pending.attempts + 1,
    };
    try {
      await member.handler(event);
      remove(member.group, pending);
    } catch (error) {
      pending.attempts = event.deliveryAttempt;
      pending.claimed = false;
      if (pending.attempts >= member.maxAttempts) {
        remove(member.group, pending);
        // There is no dead-letter store in process: the log line is the record.
        const message = `parked event ${event.id} (${event.type}) for group ${member.group.name} after ${pending.attempts} attempts`;
        if (options.logger) options.logger.warn({ err: error, event }, `event transport: ${message}`);
        else console.warn(`[event transport] ${message}: ${describeError(error)}`);
        return;
      }
      pending.availableAt = Date.now() + retryDelay(member.retryDelayMs, pending.attempts);
      wakeAt(member.group, pending.availableAt);
    }
  };

  // One event at a time per member, so a single consumer sees a type's events in publication order.
  const drain = async (member: Member) => {
    if (member.busy || member.closed) return;
    member.busy = true;
    try {
      for (;;) {
        if (member.closed) break;
        const pending = pick(member);
        if (!pending) {
          wakeForNextRetry(member);
          break;
        }
        pending.claimed = true;
        member.current = deliver(member, pending);
        await member.current;
      }
    } finally {
      member.busy = false;
      member.current = undefined;
    }
  };

  const closeMember = async (member: Member) => {
    member.closed = true;
    member.group.members.delete(member);
    await member.current;
    // Whatever this member left ready goes to the members that remain.
    kick(member.group);
  };

  return {
    async publish(event: EventEnvelope) {
      if (closed) throw new Error('event transport is closed');
      const payload = JSON.stringify(event.payload ?? null);
      for (const group of groups.values()) {
        const queue = group.queues.get(event.type);
        if (!queue) continue;
        queue.push({
          seq: ++seq,
          id: event.id,
          type: event.type,
          occurredAt: event.occurredAt,
          payload,
          attempts: 0,
          availableAt: 0,
          claimed: false,
        });
        if (queue.length > MAX_PENDING_PER_QUEUE) {
          const index = queue.findIndex((pending) => !pending.claimed);
          if (index >= 0) queue.splice(index, 1);
        }
        kick(group);
      }
    },

    async subscribe(handler: EventHandler, options: SubscribeOptions): Promise<Subscription> {
      if (closed) throw new Error('event transport is closed');
      const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
      const retryDelayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
      if (!(maxAttempts >= 1)) throw new RangeError(`maxAttempts must be at least 1, got ${maxAttempts}`);
      if (!(retryDelayMs >= 0))
        throw new RangeError(`retryDelayMs must not be negative, got ${retryDelayMs}`);

      let group = groups.get(options.group);
      if (!group) {
        group = { name: options.group, queues: new Map(), members: new Set() };
        groups.set(options.group, group);
      }
      for (const type of options.types) if (!group.queues.has(type)) group.queues.set(type, []);

      const member: Member = {
        group,
        types: new Set(options.types),
        handler,
        maxAttempts,
        retryDelayMs,
        busy: false,
        closed: false,
      };
      group.members.add(member);
      // Events the group received while it had no members.
      queueMicrotask(() => void drain(member));

      let closing: Promise<void> | undefined;
      return {
        close: () => (closing ??= closeMember(member)),
      };
    },

    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const members = [...groups.values()].flatMap((group) => [...group.members]);
      await Promise.all(members.map(closeMember));
      groups.clear();
    },
  };
}
