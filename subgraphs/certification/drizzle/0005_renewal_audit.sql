CREATE TABLE "certification"."renewal_audits" (
	"certificate_id" uuid NOT NULL,
	"term_expires_at" timestamp (3) with time zone NOT NULL,
	"status" text DEFAULT 'QUEUED' NOT NULL,
	"checks" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"report_cid" text,
	"error" text,
	"requested_by" uuid,
	"runs" integer DEFAULT 0 NOT NULL,
	"requested_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "renewal_audits_certificate_id_term_expires_at_pk" PRIMARY KEY("certificate_id","term_expires_at")
);
--> statement-breakpoint
ALTER TABLE "certification"."programmes" ADD COLUMN "renewal_requires_audit" boolean DEFAULT false NOT NULL;