import { pgSchema, text, uuid } from 'drizzle-orm/pg-core';
import { eventTables } from '../outbox.js';

/** A tiny producer/consumer schema for the outbox tests (migrations beside it, written by hand). */
export const fixture = pgSchema('outbox_fixture');
export const notes = fixture.table('notes', {
  id: uuid('id').primaryKey().defaultRandom(),
  text: text('text').notNull(),
});
export const { outbox, processedEvents } = eventTables(fixture);
