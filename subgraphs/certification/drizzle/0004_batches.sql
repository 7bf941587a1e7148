CREATE TABLE "certification"."certificate_batches" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"programme_id" uuid NOT NULL,
	"status" text DEFAULT 'OPEN' NOT NULL,
	"merkle_root" text,
	"size" integer DEFAULT 0 NOT NULL,
	"manifest_cid" text,
	"command_id" text,
	"opened_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"closed_at" timestamp (3) with time zone,
	"anchored_at" timestamp (3) with time zone,
	"chain_id" integer,
	"tx_hash" text,
	"block_number" integer,
	"anchored_by" text,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "certificate_batches_merkle_root_unique" UNIQUE("merkle_root")
);
--> statement-breakpoint
ALTER TABLE "certification"."certificates" ADD COLUMN "batch_id" uuid;--> statement-breakpoint
ALTER TABLE "certification"."certificates" ADD COLUMN "leaf" text;--> statement-breakpoint
ALTER TABLE "certification"."certificates" ADD COLUMN "proof" jsonb;--> statement-breakpoint
ALTER TABLE "certification"."certificate_batches" ADD CONSTRAINT "certificate_batches_programme_id_programmes_id_fk" FOREIGN KEY ("programme_id") REFERENCES "certification"."programmes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "certificate_batches_one_open" ON "certification"."certificate_batches" USING btree ("programme_id") WHERE "certification"."certificate_batches"."status" = 'OPEN';--> statement-breakpoint
CREATE INDEX "certificate_batches_status_idx" ON "certification"."certificate_batches" USING btree ("status","opened_at");--> statement-breakpoint
ALTER TABLE "certification"."certificates" ADD CONSTRAINT "certificates_batch_id_certificate_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "certification"."certificate_batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "certificates_batch_leaf" ON "certification"."certificates" USING btree ("batch_id","leaf");