import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import type { SupergraphSdlHook } from '@apollo/gateway';
import type { Logger } from '@symbeon/kernel';
import { supergraphForGateway } from './authz/requirements.js';
import type { GatewayMetrics } from './metrics.js';

export interface SupergraphFileSource {
  hook: SupergraphSdlHook;
  /** The supergraph being served, as in the file (with its security @links). */
  current(): string;
}

/**
 * Serves a supergraph file to ApolloGateway and reloads it when the file changes. Polling (fs.watchFile)
 * rather than fs.watch: editors and `npm run compose` replace the file, which inotify watches lose.
 * A file that fails to load is logged and the last good supergraph stays in service.
 */
export function supergraphFile(
  filePath: string,
  options: {
    logger: Logger;
    metrics: GatewayMetrics;
    pollMs?: number;
    /** Sees each supergraph before the gateway loads it, as in the file (the authorization enforcer). */
    onLoad?: (sdl: string) => void;
  },
): SupergraphFileSource {
  let sdl = '';
  const hook: SupergraphSdlHook = async ({ update }) => {
    sdl = await readFile(filePath, 'utf8');
    options.onLoad?.(sdl);
    options.metrics.supergraphLoads.inc({ outcome: 'ok' });
    const reload = async () => {
      let next: string;
      try {
        next = await readFile(filePath, 'utf8');
      } catch (error) {
        options.logger.error({ err: error, filePath }, 'supergraph file unreadable; keeping the current one');
        return;
      }
      if (next === sdl) return;
      try {
        // Requirements switch with the schema: never a moment with new fields and old rules.
        options.onLoad?.(next);
        update(supergraphForGateway(next));
        sdl = next;
        options.metrics.supergraphLoads.inc({ outcome: 'ok' });
        options.logger.info({ filePath }, 'supergraph reloaded');
      } catch (error) {
        if (sdl) options.onLoad?.(sdl);
        options.metrics.supergraphLoads.inc({ outcome: 'error' });
        options.logger.error({ err: error, filePath }, 'supergraph rejected; keeping the current one');
      }
    };
    watchFile(filePath, { interval: options.pollMs ?? 1_000 }, () => void reload());
    return {
      supergraphSdl: supergraphForGateway(sdl),
      cleanup: async () => unwatchFile(filePath),
    };
  };
  return { hook, current: () => sdl };
}
