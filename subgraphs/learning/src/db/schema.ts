import { sql } from 'drizzle-orm';
import { check, index, integer, pgSchema, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { eventTables } from '@symbeon/kernel';

export const learning = pgSchema('learning');

export const courses = learning.table(
  'courses',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    slug: text('slug').notNull().unique(),
    title: text('title').notNull(),
    summary: text('summary').notNull(),
    level: text('level', { enum: ['BEGINNER', 'INTERMEDIATE', 'ADVANCED'] }).notNull(),
    durationMinutes: integer('duration_minutes').notNull(),
    tags: text('tags')
      .array()
      .notNull()
      .default(sql`'{}'::text[]`),
    // identity's User id; checked against known_users, never joined across schemas.
    instructorId: uuid('instructor_id').notNull(),
    // Null while a draft; set once by publishCourse.
    publishedAt: timestamp('published_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [
    index('courses_catalogue_idx').on(table.createdAt.desc(), table.id.desc()),
    index('courses_instructor_idx').on(table.instructorId),
    check('courses_duration_positive', sql`${table.durationMinutes} > 0`),
  ],
);

export const events = learning.table(
  'events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    title: text('title').notNull(),
    description: text('description').notNull().default(''),
    kind: text('kind', { enum: ['WORKSHOP', 'WEBINAR'] }).notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true, precision: 3 }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true, precision: 3 }).notNull(),
    location: text('location'),
    onlineUrl: text('online_url'),
    capacity: integer('capacity').notNull(),
    // Maintained by registerForEvent with a conditional update, so it never exceeds capacity.
    seatsTaken: integer('seats_taken').notNull().default(0),
    publishedAt: timestamp('published_at', { withTimezone: true, precision: 3 }),
    createdAt: timestamp('created_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [
    index('events_schedule_idx').on(table.startsAt, table.id),
    check('events_ends_after_start', sql`${table.endsAt} > ${table.startsAt}`),
    check('events_venue', sql`(${table.location} is null) <> (${table.onlineUrl} is null)`),
    check('events_seats', sql`${table.seatsTaken} >= 0 and ${table.seatsTaken} <= ${table.capacity}`),
  ],
);

export const enrollments = learning.table(
  'enrollments',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id').notNull(),
    courseId: uuid('course_id')
      .notNull()
      .references(() => courses.id),
    status: text('status', { enum: ['ACTIVE', 'COMPLETED', 'CANCELLED'] })
      .notNull()
      .default('ACTIVE'),
    progress: integer('progress').notNull().default(0),
    enrolledAt: timestamp('enrolled_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    completedAt: timestamp('completed_at', { withTimezone: true, precision: 3 }),
    updatedAt: timestamp('updated_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [
    unique('enrollments_user_course').on(table.userId, table.courseId),
    index('enrollments_course_idx').on(table.courseId),
    check('enrollments_progress_range', sql`${table.progress} between 0 and 100`),
  ],
);

export const eventRegistrations = learning.table(
  'event_registrations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    eventId: uuid('event_id')
      .notNull()
      .references(() => events.id),
    userId: uuid('user_id').notNull(),
    registeredAt: timestamp('registered_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [unique('event_registrations_once').on(table.eventId, table.userId)],
);

/**
 * The users learning knows exist, projected from identity's `identity.UserCreated` events. Lets learning
 * refuse an unknown instructor or learner without reading identity's tables.
 */
export const knownUsers = learning.table('known_users', {
  userId: uuid('user_id').primaryKey(),
  handle: text('handle').notNull(),
  learnedAt: timestamp('learned_at', { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

export const { outbox, processedEvents } = eventTables(learning);
