CREATE TABLE "certification"."certificates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"request_id" uuid NOT NULL,
	"programme_id" uuid NOT NULL,
	"holder_id" uuid NOT NULL,
	"holder_address" text,
	"status" text DEFAULT 'ISSUING' NOT NULL,
	"token_id" text,
	"metadata_cid" text,
	"credential_cid" text,
	"image_cid" text,
	"issued_at" timestamp (3) with time zone,
	"expires_at" timestamp (3) with time zone,
	"attempt" integer DEFAULT 1 NOT NULL,
	"command_id" text,
	"chain_id" integer,
	"tx_hash" text,
	"block_number" integer,
	"revoked_at" timestamp (3) with time zone,
	"revoked_reason" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "certificates_request_id_unique" UNIQUE("request_id"),
	CONSTRAINT "certificates_token_id_unique" UNIQUE("token_id")
);
--> statement-breakpoint
CREATE TABLE "certification"."known_wallets" (
	"address" text PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"chain_id" integer NOT NULL,
	"linked_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "certification"."certificates" ADD CONSTRAINT "certificates_request_id_certification_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "certification"."certification_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "certification"."certificates" ADD CONSTRAINT "certificates_programme_id_programmes_id_fk" FOREIGN KEY ("programme_id") REFERENCES "certification"."programmes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "certificates_holder_idx" ON "certification"."certificates" USING btree ("holder_id","status");--> statement-breakpoint
CREATE INDEX "known_wallets_user_idx" ON "certification"."known_wallets" USING btree ("user_id","linked_at");