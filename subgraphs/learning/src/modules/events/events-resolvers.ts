import { asResult, type GraphQLResolverMap } from '@symbeon/kernel';
import type { LearningContext } from '../../context.js';
import type { EventFilterInput } from './events-manager.js';
import type { EventRow, RegistrationRow } from './events-storage.js';
import { actingUserId, canWriteLearning } from '../shared/access.js';

type EventInput = Parameters<LearningContext['events']['createEvent']>[0];

export const eventsResolvers: GraphQLResolverMap<LearningContext> = {
  Query: {
    events: (
      _: unknown,
      args: { first?: number | null; after?: string | null; filter?: EventFilterInput | null },
      context: LearningContext,
    ) => context.events.listEvents(args, canWriteLearning(context.principal)),
    event: (_: unknown, args: { id: string }, context: LearningContext) =>
      context.events.findEvent(args.id, canWriteLearning(context.principal)),
  },
  Mutation: {
    createEvent: (_: unknown, args: { input: EventInput }, context: LearningContext) =>
      asResult(async () => ({ event: await context.events.createEvent(args.input) })),
    updateEvent: (_: unknown, args: { id: string; input: EventInput }, context: LearningContext) =>
      asResult(async () => ({ event: await context.events.updateEvent(args.id, args.input) })),
    publishEvent: (_: unknown, args: { id: string }, context: LearningContext) =>
      asResult(async () => ({ event: await context.events.publishEvent(args.id) })),
    registerForEvent: (
      _: unknown,
      args: { eventId: string; userId?: string | null },
      context: LearningContext,
    ) =>
      asResult(async () => ({
        registration: await context.events.register(
          args.eventId,
          actingUserId(context.principal, args.userId),
        ),
      })),
  },
  Event: {
    __resolveReference: (reference: { id: string }, context: LearningContext) =>
      context.loaders.eventById.load(reference.id),
    seatsLeft: (event: EventRow) => event.capacity - event.seatsTaken,
  },
  EventRegistration: {
    event: (registration: RegistrationRow, _: unknown, context: LearningContext) =>
      context.loaders.eventById.load(registration.eventId),
    user: (registration: RegistrationRow) => ({ __typename: 'User', id: registration.userId }),
  },
};
