CREATE TABLE "certification"."settled_payments" (
	"order_id" uuid PRIMARY KEY NOT NULL,
	"user_id" uuid NOT NULL,
	"programme_id" uuid NOT NULL,
	"amount_minor" text NOT NULL,
	"currency" text NOT NULL,
	"provider" text NOT NULL,
	"settled_at" timestamp (3) with time zone NOT NULL,
	"request_id" uuid,
	"claimed_at" timestamp (3) with time zone,
	CONSTRAINT "settled_payments_request_id_unique" UNIQUE("request_id")
);
--> statement-breakpoint
ALTER TABLE "certification"."settled_payments" ADD CONSTRAINT "settled_payments_request_id_certification_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "certification"."certification_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "settled_payments_unclaimed_idx" ON "certification"."settled_payments" USING btree ("user_id","programme_id","request_id");