/**
 * Wakes live request subscriptions when a request (or its audit) changed. The requests and audit storage
 * `pg_notify` this channel with the request id inside their writes (delivered when the transaction commits,
 * also when issuance runs them inside a consumer's transaction); the service LISTENs and forwards every
 * notification to `wake(requestId)`, which only reaches the subscriptions of that request. A wake carries
 * no data: subscribers re-read the request.
 */
export const REQUEST_UPDATES_CHANNEL = 'symbeon_certification_request_updates';

export interface RequestFeed {
  wake(requestId: string): void;
  /** Returns the unsubscribe function. */
  onWake(requestId: string, listener: () => void): () => void;
}

export function createRequestFeed(): RequestFeed {
  const listeners = new Map<string, Set<() => void>>();
  return {
    wake(requestId) {
      for (const listener of listeners.get(requestId) ?? []) listener();
    },
    onWake(requestId, listener) {
      let set = listeners.get(requestId);
      if (!set) listeners.set(requestId, (set = new Set()));
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0 && listeners.get(requestId) === set) listeners.delete(requestId);
      };
    },
  };
}
