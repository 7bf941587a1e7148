import type { CertificationContext } from '../../context.js';
import type { RequestUpdate, LiveUpdates } from './live-updates.js';

/** The service adds the live updates to every context (see service.ts). */
export type LiveContext = CertificationContext & { live: LiveUpdates };

export const liveResolvers = {
  Subscription: {
    certificationRequestUpdated: {
      subscribe: async (_: unknown, args: { id: string }, context: LiveContext) => {
        await context.live.authorize(context.principal, args.id);
        return context.live.subscribe(args.id);
      },
      // One context serves every message of a subscription: its loaders must not answer from the last one.
      resolve: (payload: RequestUpdate, _: unknown, context: LiveContext) => {
        for (const loader of Object.values(context.loaders)) loader.clearAll();
        const request = payload.certificationRequestUpdated;
        // The message shows the audit as it was read with the request (a later read may be further on).
        context.loaders.auditByRequest.prime(request.id, payload.audit);
        return request;
      },
    },
  },
};
