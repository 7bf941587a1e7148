import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import type { CertificationContext } from '../../context.js';
import { isUuid } from '../shared/validation.js';
import type { RequestRow, TransitionRow } from './requests-storage.js';

type Context = CertificationContext;
type Page = { first?: number | null; after?: string | null };

// Who may read a request is decided by the shield rules (permissions.ts), for queries and entity
// references alike; mutations check the actor in the manager's transition.
export const requestsResolvers: GraphQLResolverMap<Context> = {
  Query: {
    certificationRequest: (_: unknown, args: { id: string }, context: Context) =>
      isUuid(args.id) ? context.loaders.requestById.load(args.id) : null,
    myCertificationRequests: (_: unknown, args: Page, context: Context) =>
      context.requests.listMine(context.principal, args),
    reviewQueue: (_: unknown, args: Page, context: Context) =>
      context.requests.reviewQueue(context.principal, args),
  },
  Mutation: {
    createCertificationRequest: (_: unknown, args: { programmeId: string }, context: Context) =>
      asResult(async () => ({
        request: await context.requests.createRequest(context.principal, args.programmeId),
      })),
    submitCertificationRequest: (_: unknown, args: { id: string }, context: Context) =>
      asResult(async () => ({ request: await context.requests.submit(context.principal, args.id) })),
    cancelCertificationRequest: (
      _: unknown,
      args: { id: string; reason?: string | null },
      context: Context,
    ) =>
      asResult(async () => ({
        request: await context.requests.cancel(context.principal, args.id, args.reason),
      })),
    reviewCertificationRequest: (
      _: unknown,
      args: { id: string; decision: 'APPROVE' | 'REJECT'; comment?: string | null },
      context: Context,
    ) =>
      asResult(async () => ({
        request: await context.requests.review(context.principal, args.id, args.decision, args.comment),
      })),
  },
  CertificationRequest: {
    __resolveReference: (reference: { id: string }, context: Context) =>
      context.loaders.requestById.load(reference.id),
    // The requester sees their request's programme even once it is archived.
    programme: (request: RequestRow, _: unknown, context: Context) =>
      context.loaders.programmeById.load(request.programmeId),
    requester: (request: RequestRow) => ({ __typename: 'User', id: request.requesterId }),
    auditTrail: (request: RequestRow, _: unknown, context: Context) =>
      context.loaders.transitionsByRequest.load(request.id),
  },
  RequestTransition: {
    from: (row: TransitionRow) => row.fromStatus,
    to: (row: TransitionRow) => row.toStatus,
    actor: (row: TransitionRow) => ({
      kind: row.actorKind,
      user: row.actorId ? { __typename: 'User', id: row.actorId } : null,
      name: row.actorName,
    }),
  },
};
