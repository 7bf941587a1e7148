CREATE SCHEMA IF NOT EXISTS "outbox_fixture";
--> statement-breakpoint
CREATE TABLE "outbox_fixture"."notes" ("id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL, "text" text NOT NULL);
--> statement-breakpoint
CREATE TABLE "outbox_fixture"."outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL UNIQUE,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "outbox_fixture"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	PRIMARY KEY ("consumer", "event_id")
);
