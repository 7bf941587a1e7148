/**
 * Wakes live subscriptions when certificate events commit: the indexer of this process calls `wake()` after
 * its transaction, and the service forwards the database's NOTIFY (another replica's indexer) to it too.
 * A wake carries no data: subscribers read what is new from certificate_events, by cursor.
 */
export interface CertificateFeed {
  wake(): void;
  /** Returns the unsubscribe function. */
  onWake(listener: () => void): () => void;
}

export function createCertificateFeed(): CertificateFeed {
  const listeners = new Set<() => void>();
  return {
    wake() {
      for (const listener of listeners) listener();
    },
    onWake(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
