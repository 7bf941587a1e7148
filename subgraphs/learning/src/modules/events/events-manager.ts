import { z } from 'zod';
import { DomainError, ErrorCode, decodeCursor, pageSize, toConnection } from '@symbeon/kernel';
import type { Publication } from '../courses/courses-storage.js';
import type { KnownUsersStorage } from '../known-users/known-users-storage.js';
import { isUuid, parseInput, requireUuid } from '../shared/validation.js';
import type { EventRow, EventsStorage, NewEvent } from './events-storage.js';

const eventFields = z.object({
  title: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  description: z.string().trim().max(5000, 'must be at most 5000 characters'),
  kind: z.enum(['WORKSHOP', 'WEBINAR']),
  startsAt: z.date(),
  endsAt: z.date(),
  location: z.string().trim().min(1, 'must not be empty').max(300).nullable(),
  onlineUrl: z
    .url({ protocol: /^https$/, message: 'must be an https URL' })
    .max(2048)
    .nullable(),
  capacity: z.number().int().min(1, 'must be at least 1').max(100_000, 'must be at most 100000'),
});

/** Rules that span fields; checked on the merged event for updates too. */
const eventRules = eventFields
  .refine((event) => event.endsAt > event.startsAt, { message: 'must be after startsAt', path: ['endsAt'] })
  .refine((event) => (event.location === null) !== (event.onlineUrl === null), {
    message: 'give exactly one of location and onlineUrl',
    path: ['location'],
  });

export interface EventFilterInput {
  kind?: EventRow['kind'] | null;
  from?: Date | null;
  to?: Date | null;
  status?: Publication | null;
}

type EventInput = Partial<{
  [K in keyof z.infer<typeof eventFields>]: z.infer<typeof eventFields>[K] | null;
}>;

function withoutNulls(input: EventInput, nullable: ReadonlySet<string>): Record<string, unknown> {
  // For updates, null clears a nullable field (location/onlineUrl) and means "unchanged" for the rest.
  return Object.fromEntries(
    Object.entries(input).filter(
      ([key, value]) => value !== undefined && (value !== null || nullable.has(key)),
    ),
  );
}

export function createEventsManager(events: EventsStorage, knownUsers: KnownUsersStorage) {
  return {
    async createEvent(input: EventInput): Promise<EventRow> {
      const values = parseInput(eventRules, {
        description: '',
        location: null,
        onlineUrl: null,
        ...withoutNulls(input, new Set()),
      });
      if (values.startsAt <= new Date()) {
        throw new DomainError(
          ErrorCode.BAD_USER_INPUT,
          'input.startsAt: must be in the future',
          'input.startsAt',
        );
      }
      return events.insertEvent(values satisfies NewEvent);
    },

    async updateEvent(id: string, input: EventInput): Promise<EventRow> {
      requireUuid(id, 'event', 'id');
      const patch = withoutNulls(input, new Set(['location', 'onlineUrl']));
      if (Object.keys(patch).length === 0) {
        throw new DomainError(ErrorCode.BAD_USER_INPUT, 'Give at least one field to change', 'input');
      }
      const updated = await events.updateEvent(id, (current) => {
        const merged = parseInput(eventRules, { ...current, ...patch });
        if (merged.capacity < current.seatsTaken) {
          throw new DomainError(
            ErrorCode.BAD_USER_INPUT,
            `input.capacity: ${current.seatsTaken} seats are already taken`,
            'input.capacity',
          );
        }
        return merged;
      });
      if (!updated) throw new DomainError(ErrorCode.NOT_FOUND, `No event with id "${id}"`, 'id');
      return updated;
    },

    async publishEvent(id: string): Promise<EventRow> {
      requireUuid(id, 'event', 'id');
      const published = await events.publishEvent(id);
      if (published) return published;
      const [existing] = await events.findByIds([id]);
      if (!existing) throw new DomainError(ErrorCode.NOT_FOUND, `No event with id "${id}"`, 'id');
      throw new DomainError(ErrorCode.INVALID_STATE, 'The event is already published', 'id');
    },

    async register(eventId: string, userId: string) {
      requireUuid(eventId, 'event', 'eventId');
      requireUuid(userId, 'user', 'userId');
      const known = await knownUsers.findExisting([userId]);
      if (!known.has(userId))
        throw new DomainError(ErrorCode.NOT_FOUND, `No user with id "${userId}"`, 'userId');
      return events.register(eventId, userId);
    },

    async findEvent(id: string, seeDrafts: boolean): Promise<EventRow | null> {
      const row = isUuid(id) ? ((await events.findByIds([id]))[0] ?? null) : null;
      return row && (row.publishedAt || seeDrafts) ? row : null;
    },

    async listEvents(
      args: { first?: number | null; after?: string | null; filter?: EventFilterInput | null },
      seeDrafts: boolean,
    ) {
      const size = pageSize(args.first);
      const filter = args.filter ?? {};
      if ((filter.status ?? 'PUBLISHED') !== 'PUBLISHED' && !seeDrafts) {
        throw new DomainError(
          ErrorCode.FORBIDDEN,
          'Unpublished events are visible with learning:write only',
          'filter.status',
        );
      }
      let after: { startsAt: Date; id: string } | undefined;
      if (args.after != null) {
        const [startsAt, id] = decodeCursor(args.after, ['string', 'string']) as [string, string];
        after = { startsAt: new Date(startsAt), id };
        if (Number.isNaN(after.startsAt.getTime()) || !isUuid(id)) decodeCursor('', ['string']);
      }
      const rows = await events.listEvents({
        limit: size + 1,
        after,
        kind: filter.kind ?? undefined,
        from: filter.from ?? new Date(),
        to: filter.to ?? undefined,
        status: filter.status ?? 'PUBLISHED',
      });
      return toConnection(rows, size, (row) => [row.startsAt.toISOString(), row.id], after !== undefined);
    },
  };
}

export type EventsManager = ReturnType<typeof createEventsManager>;
