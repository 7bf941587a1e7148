import { consumeEvents, type EventTransport, type Subscription } from '@symbeon/kernel';
import * as schema from '../../db/schema.js';
import type { PaymentsDb } from '../orders/orders-storage.js';
import { createKnownUsersStorage } from './known-users-storage.js';

/** identity's event, as identity publishes it (a contract, not an import: subgraphs never import each other). */
const UserCreated = 'identity.UserCreated';

function isUserCreated(payload: unknown): payload is { userId: string; handle: string } {
  const value = payload as { userId?: unknown; handle?: unknown } | null;
  return typeof value?.userId === 'string' && typeof value.handle === 'string';
}

/** Keeps `known_users` in step with identity. Idempotent: a redelivered event changes nothing. */
export function consumeUserEvents(db: PaymentsDb, transport: EventTransport): Promise<Subscription> {
  const storage = createKnownUsersStorage(db);
  return consumeEvents({
    db,
    tables: { outbox: schema.outbox, processedEvents: schema.processedEvents },
    transport,
    consumer: 'payments.known-users',
    types: [UserCreated],
    handle: async (event, tx) => {
      if (!isUserCreated(event.payload))
        throw new Error(`Malformed ${UserCreated} payload in event ${event.id}`);
      await storage.remember(tx, event.payload.userId, event.payload.handle);
    },
  });
}
