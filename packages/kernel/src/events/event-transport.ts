/**
 * The wire under the event bus. Subgraphs never call it directly: they write events into their outbox
 * inside the transaction that changes state (see outbox.ts), the relay publishes them here, and consumers
 * receive them through `subscribe`. Redis Streams with consumer groups in the services profile; an
 * in-process adapter in the embedded one.
 */
export interface EventEnvelope<TPayload = unknown> {
  /** Globally unique (uuid); consumers de-duplicate on it. */
  id: string;
  /** e.g. `identity.UserCreated` — `<producing subgraph>.<PastTenseFact>`. */
  type: string;
  /** UTC ISO-8601 time the state change was committed. */
  occurredAt: string;
  payload: TPayload;
}

export interface DeliveredEvent<TPayload = unknown> extends EventEnvelope<TPayload> {
  /** 1 on first delivery; higher when redelivered after a failed or unacknowledged attempt. */
  deliveryAttempt: number;
}

export type EventHandler = (event: DeliveredEvent) => Promise<void>;

export interface SubscribeOptions {
  /**
   * Consumer group: each event type is delivered once per group (to one of its members), and every
   * group sees every event. A service uses one stable group name per consumer, e.g. `learning.users`.
   */
  group: string;
  /** Event types to receive. */
  types: readonly string[];
  /** Deliveries in total, the first included, before a failing event is parked as dead (default 10). */
  maxAttempts?: number;
  /** Delay before a failed event is redelivered (default 1 000 ms, doubled per attempt, capped). */
  retryDelayMs?: number;
}

export interface Subscription {
  /** Stops receiving; in-flight handlers finish first. */
  close(): Promise<void>;
}

export interface EventTransport {
  /** Durably appends the event; resolves once the transport has accepted it. */
  publish(event: EventEnvelope): Promise<void>;
  /**
   * Delivers events of `types` published after the group was first created (and any the group has not
   * acknowledged yet), at least once. A handler that resolves acknowledges; one that throws gets the
   * event again later, up to `maxAttempts`.
   */
  subscribe(handler: EventHandler, options: SubscribeOptions): Promise<Subscription>;
  close(): Promise<void>;
}
