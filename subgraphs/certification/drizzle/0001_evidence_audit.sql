CREATE TABLE "certification"."completed_courses" (
	"user_id" uuid NOT NULL,
	"course_id" uuid NOT NULL,
	"completed_at" timestamp (3) with time zone NOT NULL,
	"learned_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "completed_courses_user_id_course_id_pk" PRIMARY KEY("user_id","course_id")
);
--> statement-breakpoint
CREATE TABLE "certification"."evidence_uploads" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"purpose" text DEFAULT 'evidence' NOT NULL,
	"request_id" uuid NOT NULL,
	"requester_id" uuid NOT NULL,
	"evidence_key" text NOT NULL,
	"file_name" text NOT NULL,
	"media_type" text NOT NULL,
	"size" integer NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"used_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "certification"."request_audits" (
	"request_id" uuid PRIMARY KEY NOT NULL,
	"status" text DEFAULT 'QUEUED' NOT NULL,
	"progress" integer DEFAULT 0 NOT NULL,
	"checks" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"run_id" uuid,
	"attempts" integer DEFAULT 0 NOT NULL,
	"report_cid" text,
	"error" text,
	"queued_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "request_audits_progress" CHECK ("certification"."request_audits"."progress" between 0 and 100)
);
--> statement-breakpoint
CREATE TABLE "certification"."request_evidence" (
	"request_id" uuid NOT NULL,
	"evidence_key" text NOT NULL,
	"file_name" text NOT NULL,
	"cid" text NOT NULL,
	"sha256" text NOT NULL,
	"size" integer NOT NULL,
	"media_type" text NOT NULL,
	"uploaded_by" uuid NOT NULL,
	"uploaded_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "request_evidence_request_id_evidence_key_pk" PRIMARY KEY("request_id","evidence_key")
);
--> statement-breakpoint
ALTER TABLE "certification"."evidence_uploads" ADD CONSTRAINT "evidence_uploads_request_id_certification_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "certification"."certification_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification"."request_audits" ADD CONSTRAINT "request_audits_request_id_certification_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "certification"."certification_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification"."request_evidence" ADD CONSTRAINT "request_evidence_request_id_certification_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "certification"."certification_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "evidence_uploads_expires_idx" ON "certification"."evidence_uploads" USING btree ("expires_at");