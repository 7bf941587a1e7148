CREATE TABLE "payments"."paypal_orders" (
	"paypal_order_id" text PRIMARY KEY NOT NULL,
	"order_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"approve_url" text,
	"capture_id" text,
	"capture_status" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "payments"."provider_webhook_events" (
	"provider" text NOT NULL,
	"event_id" text NOT NULL,
	"type" text NOT NULL,
	"object_id" text,
	"event_created_at" timestamp (3) with time zone NOT NULL,
	"received_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"deliveries" integer DEFAULT 1 NOT NULL,
	"processed_at" timestamp (3) with time zone,
	"outcome" text,
	"detail" text,
	CONSTRAINT "provider_webhook_events_provider_event_id_pk" PRIMARY KEY("provider","event_id")
);
--> statement-breakpoint
CREATE TABLE "payments"."stripe_checkout_sessions" (
	"session_id" text PRIMARY KEY NOT NULL,
	"order_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"amount_minor" bigint NOT NULL,
	"currency" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "payments"."paypal_orders" ADD CONSTRAINT "paypal_orders_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "payments"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments"."stripe_checkout_sessions" ADD CONSTRAINT "stripe_checkout_sessions_order_id_orders_id_fk" FOREIGN KEY ("order_id") REFERENCES "payments"."orders"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "paypal_orders_attempt" ON "payments"."paypal_orders" USING btree ("order_id","attempt");--> statement-breakpoint
CREATE UNIQUE INDEX "paypal_orders_capture" ON "payments"."paypal_orders" USING btree ("capture_id");--> statement-breakpoint
CREATE INDEX "provider_webhook_events_object_idx" ON "payments"."provider_webhook_events" USING btree ("provider","object_id","event_created_at");--> statement-breakpoint
CREATE INDEX "provider_webhook_events_flagged_idx" ON "payments"."provider_webhook_events" USING btree ("received_at") WHERE "payments"."provider_webhook_events"."outcome" = 'FLAGGED';--> statement-breakpoint
CREATE UNIQUE INDEX "stripe_checkout_sessions_attempt" ON "payments"."stripe_checkout_sessions" USING btree ("order_id","attempt");