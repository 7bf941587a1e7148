CREATE SCHEMA IF NOT EXISTS "certification";
--> statement-breakpoint
CREATE TABLE "certification"."certification_requests" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"programme_id" uuid NOT NULL,
	"requester_id" uuid NOT NULL,
	"status" text DEFAULT 'DRAFT' NOT NULL,
	"status_changed_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "certification"."known_users" (
	"user_id" uuid PRIMARY KEY NOT NULL,
	"handle" text NOT NULL,
	"learned_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "certification"."outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "outbox_id_unique" UNIQUE("id")
);
--> statement-breakpoint
CREATE TABLE "certification"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "certification"."programme_auditors" (
	"programme_id" uuid NOT NULL,
	"auditor_id" uuid NOT NULL,
	"assigned_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "programme_auditors_programme_id_auditor_id_pk" PRIMARY KEY("programme_id","auditor_id")
);
--> statement-breakpoint
CREATE TABLE "certification"."programmes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"slug" text NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"evidence_types" jsonb NOT NULL,
	"audit_checklist" jsonb NOT NULL,
	"prerequisite_course_ids" uuid[] DEFAULT '{}'::uuid[] NOT NULL,
	"price_amount_minor" integer,
	"price_currency" text,
	"validity_days" integer NOT NULL,
	"issuance_mode" text NOT NULL,
	"status" text DEFAULT 'DRAFT' NOT NULL,
	"created_by" uuid NOT NULL,
	"published_at" timestamp (3) with time zone,
	"archived_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "programmes_slug_unique" UNIQUE("slug"),
	CONSTRAINT "programmes_price" CHECK (("certification"."programmes"."price_amount_minor" is null) = ("certification"."programmes"."price_currency" is null) and coalesce("certification"."programmes"."price_amount_minor", 1) > 0),
	CONSTRAINT "programmes_validity_positive" CHECK ("certification"."programmes"."validity_days" > 0)
);
--> statement-breakpoint
CREATE TABLE "certification"."request_transitions" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"request_id" uuid NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"actor_kind" text NOT NULL,
	"actor_id" uuid,
	"actor_name" text,
	"reason" text,
	"evidence" jsonb,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "request_transitions_actor" CHECK (("certification"."request_transitions"."actor_kind" = 'SYSTEM') = ("certification"."request_transitions"."actor_id" is null))
);
--> statement-breakpoint
ALTER TABLE "certification"."certification_requests" ADD CONSTRAINT "certification_requests_programme_id_programmes_id_fk" FOREIGN KEY ("programme_id") REFERENCES "certification"."programmes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification"."programme_auditors" ADD CONSTRAINT "programme_auditors_programme_id_programmes_id_fk" FOREIGN KEY ("programme_id") REFERENCES "certification"."programmes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification"."request_transitions" ADD CONSTRAINT "request_transitions_request_id_certification_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "certification"."certification_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "certification_requests_one_open" ON "certification"."certification_requests" USING btree ("requester_id","programme_id") WHERE "certification"."certification_requests"."status" in ('DRAFT', 'SUBMITTED', 'AUDITING', 'AWAITING_REVIEW', 'APPROVED', 'AWAITING_PAYMENT', 'ISSUING', 'ISSUED', 'RENEWAL_DUE', 'RENEWED');--> statement-breakpoint
CREATE INDEX "certification_requests_requester_idx" ON "certification"."certification_requests" USING btree ("requester_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "certification_requests_queue_idx" ON "certification"."certification_requests" USING btree ("programme_id","status","status_changed_at");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "certification"."outbox" USING btree ("seq") WHERE "certification"."outbox"."published_at" is null;--> statement-breakpoint
CREATE INDEX "programme_auditors_auditor_idx" ON "certification"."programme_auditors" USING btree ("auditor_id");--> statement-breakpoint
CREATE INDEX "programmes_catalogue_idx" ON "certification"."programmes" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "request_transitions_request_idx" ON "certification"."request_transitions" USING btree ("request_id","seq");