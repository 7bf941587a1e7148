CREATE TABLE "payments"."crypto_payments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"event_id" text NOT NULL,
	"chain_id" integer NOT NULL,
	"contract" text NOT NULL,
	"tx_hash" text NOT NULL,
	"log_index" integer NOT NULL,
	"block_number" bigint NOT NULL,
	"block_hash" text NOT NULL,
	"order_ref" text NOT NULL,
	"payer" text NOT NULL,
	"token" text NOT NULL,
	"amount" numeric(78, 0) NOT NULL,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"order_id" uuid,
	"quote_id" uuid,
	"credited_minor" bigint,
	"currency" text,
	"status" text DEFAULT 'RECEIVED' NOT NULL,
	"settlement_payment_id" uuid,
	"suspense_entry_id" uuid,
	"needs_review" boolean DEFAULT false NOT NULL,
	"review_reason" text,
	"resolved_at" timestamp (3) with time zone,
	"resolved_by" uuid,
	"resolution" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payments"."crypto_quotes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"order_id" uuid NOT NULL,
	"chain_id" integer NOT NULL,
	"receiver" text NOT NULL,
	"order_ref" text NOT NULL,
	"token" text NOT NULL,
	"token_symbol" text NOT NULL,
	"token_decimals" integer NOT NULL,
	"amount" numeric(78, 0) NOT NULL,
	"price_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"rate" text NOT NULL,
	"rate_source" text NOT NULL,
	"status" text DEFAULT 'ACTIVE' NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"excess_refunded_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "payments"."crypto_rates" (
	"symbol" text NOT NULL,
	"currency" text NOT NULL,
	"rate" text NOT NULL,
	"set_by" uuid NOT NULL,
	"set_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "crypto_rates_symbol_currency_pk" PRIMARY KEY("symbol","currency")
);
--> statement-breakpoint
ALTER TABLE "payments"."crypto_payments" ADD CONSTRAINT "crypto_payments_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "payments"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments"."crypto_payments" ADD CONSTRAINT "crypto_payments_quote_id_crypto_quotes_id_fk" FOREIGN KEY ("quote_id") REFERENCES "payments"."crypto_quotes"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments"."crypto_quotes" ADD CONSTRAINT "crypto_quotes_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "payments"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "crypto_payments_log" ON "payments"."crypto_payments" USING btree ("chain_id","block_hash","log_index");--> statement-breakpoint
CREATE INDEX "crypto_payments_quote_idx" ON "payments"."crypto_payments" USING btree ("quote_id");--> statement-breakpoint
CREATE INDEX "crypto_payments_status_idx" ON "payments"."crypto_payments" USING btree ("status");--> statement-breakpoint
CREATE INDEX "crypto_payments_review_idx" ON "payments"."crypto_payments" USING btree ("created_at") WHERE "payments"."crypto_payments"."needs_review";--> statement-breakpoint
CREATE UNIQUE INDEX "crypto_quotes_one_active" ON "payments"."crypto_quotes" USING btree ("order_id") WHERE "payments"."crypto_quotes"."status" = 'ACTIVE';--> statement-breakpoint
CREATE INDEX "crypto_quotes_order_idx" ON "payments"."crypto_quotes" USING btree ("order_id","created_at" DESC NULLS LAST);