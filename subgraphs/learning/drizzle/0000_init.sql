CREATE SCHEMA IF NOT EXISTS "learning";
--> statement-breakpoint
CREATE TABLE "learning"."courses" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"slug" text NOT NULL,
	"title" text NOT NULL,
	"summary" text NOT NULL,
	"level" text NOT NULL,
	"duration_minutes" integer NOT NULL,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"instructor_id" uuid NOT NULL,
	"published_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "courses_slug_unique" UNIQUE("slug"),
	CONSTRAINT "courses_duration_positive" CHECK ("learning"."courses"."duration_minutes" > 0)
);
--> statement-breakpoint
CREATE TABLE "learning"."enrollments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"user_id" uuid NOT NULL,
	"course_id" uuid NOT NULL,
	"status" text DEFAULT 'ACTIVE' NOT NULL,
	"progress" integer DEFAULT 0 NOT NULL,
	"enrolled_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "enrollments_user_course" UNIQUE("user_id","course_id"),
	CONSTRAINT "enrollments_progress_range" CHECK ("learning"."enrollments"."progress" between 0 and 100)
);
--> statement-breakpoint
CREATE TABLE "learning"."event_registrations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"event_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"registered_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "event_registrations_once" UNIQUE("event_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "learning"."events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"title" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"kind" text NOT NULL,
	"starts_at" timestamp (3) with time zone NOT NULL,
	"ends_at" timestamp (3) with time zone NOT NULL,
	"location" text,
	"online_url" text,
	"capacity" integer NOT NULL,
	"seats_taken" integer DEFAULT 0 NOT NULL,
	"published_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "events_ends_after_start" CHECK ("learning"."events"."ends_at" > "learning"."events"."starts_at"),
	CONSTRAINT "events_venue" CHECK (("learning"."events"."location" is null) <> ("learning"."events"."online_url" is null)),
	CONSTRAINT "events_seats" CHECK ("learning"."events"."seats_taken" >= 0 and "learning"."events"."seats_taken" <= "learning"."events"."capacity")
);
--> statement-breakpoint
CREATE TABLE "learning"."known_users" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"handle" text NOT NULL,
	"learned_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "learning"."outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "outbox_id_unique" UNIQUE("id")
);
--> statement-breakpoint
CREATE TABLE "learning"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
ALTER TABLE "learning"."enrollments" ADD CONSTRAINT "enrollments_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "learning"."courses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "learning"."event_registrations" ADD CONSTRAINT "event_registrations_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "learning"."events"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "courses_catalogue_idx" ON "learning"."courses" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "courses_instructor_idx" ON "learning"."courses" USING btree ("instructor_id");--> statement-breakpoint
CREATE INDEX "enrollments_course_idx" ON "learning"."enrollments" USING btree ("course_id");--> statement-breakpoint
CREATE INDEX "events_schedule_idx" ON "learning"."events" USING btree ("starts_at","id");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "learning"."outbox" USING btree ("seq") WHERE "learning"."outbox"."published_at" is null;