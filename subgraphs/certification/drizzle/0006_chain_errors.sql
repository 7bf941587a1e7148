ALTER TABLE "certification"."certificates" ADD COLUMN "chain_error" text;--> statement-breakpoint
ALTER TABLE "certification"."certificates" ADD COLUMN "chain_error_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "certification"."certificates" ADD COLUMN "chain_error_retryable" boolean;