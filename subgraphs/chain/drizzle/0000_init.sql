CREATE SCHEMA IF NOT EXISTS "chain";
--> statement-breakpoint
CREATE TABLE "chain"."certificate_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"chain_id" integer NOT NULL,
	"contract" text NOT NULL,
	"token_id" text NOT NULL,
	"holder" text NOT NULL,
	"block_number" bigint NOT NULL,
	"block_hash" text NOT NULL,
	"tx_hash" text NOT NULL,
	"log_index" integer NOT NULL,
	"payload" jsonb NOT NULL,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "certificate_events_once" UNIQUE("chain_id","block_hash","log_index")
);
--> statement-breakpoint
CREATE TABLE "chain"."certificates" (
	"chain_id" integer NOT NULL,
	"token_id" text NOT NULL,
	"contract" text NOT NULL,
	"holder" text NOT NULL,
	"issuer" text NOT NULL,
	"content_digest" text NOT NULL,
	"expires_at" timestamp (3) with time zone,
	"revoked" boolean DEFAULT false NOT NULL,
	"issued_block" bigint NOT NULL,
	"issued_tx" text NOT NULL,
	"updated_block" bigint NOT NULL,
	CONSTRAINT "certificates_chain_id_token_id_pk" PRIMARY KEY("chain_id","token_id")
);
--> statement-breakpoint
CREATE TABLE "chain"."chain_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"chain_id" integer NOT NULL,
	"block_number" bigint NOT NULL,
	"block_hash" text NOT NULL,
	"tx_hash" text NOT NULL,
	"log_index" integer NOT NULL,
	"address" text NOT NULL,
	"event_name" text NOT NULL,
	"args" jsonb NOT NULL,
	CONSTRAINT "chain_logs_once" UNIQUE("chain_id","block_hash","log_index")
);
--> statement-breakpoint
CREATE TABLE "chain"."indexed_blocks" (
	"chain_id" integer NOT NULL,
	"block_number" bigint NOT NULL,
	"block_hash" text NOT NULL,
	"timestamp" timestamp (3) with time zone,
	CONSTRAINT "indexed_blocks_chain_id_block_number_pk" PRIMARY KEY("chain_id","block_number")
);
--> statement-breakpoint
CREATE TABLE "chain"."indexer_checkpoints" (
	"chain_id" integer PRIMARY KEY NOT NULL,
	"block_number" bigint NOT NULL,
	"block_hash" text NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chain"."outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL,
	"type" text NOT NULL,
	"payload" jsonb NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "outbox_id_unique" UNIQUE("id")
);
--> statement-breakpoint
CREATE TABLE "chain"."processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "processed_events_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE TABLE "chain"."signers" (
	"chain_id" integer NOT NULL,
	"address" text NOT NULL,
	"next_nonce" bigint NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "signers_chain_id_address_pk" PRIMARY KEY("chain_id","address")
);
--> statement-breakpoint
CREATE TABLE "chain"."transaction_attempts" (
	"hash" text PRIMARY KEY NOT NULL,
	"transaction_id" uuid NOT NULL,
	"raw_transaction" text NOT NULL,
	"max_fee_per_gas" text NOT NULL,
	"max_priority_fee_per_gas" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "chain"."transactions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"idempotency_key" text NOT NULL,
	"kind" text NOT NULL,
	"command" jsonb NOT NULL,
	"chain_id" integer NOT NULL,
	"from_address" text NOT NULL,
	"to_address" text NOT NULL,
	"data" text NOT NULL,
	"status" text NOT NULL,
	"nonce" bigint,
	"gas_limit" bigint,
	"hash" text,
	"raw_transaction" text,
	"max_fee_per_gas" text,
	"max_priority_fee_per_gas" text,
	"mined_hash" text,
	"block_number" bigint,
	"error" text,
	"submitted_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "transactions_idempotency_key_unique" UNIQUE("idempotency_key"),
	CONSTRAINT "transactions_nonce_unique" UNIQUE("chain_id","from_address","nonce")
);
--> statement-breakpoint
CREATE INDEX "certificate_events_token_idx" ON "chain"."certificate_events" USING btree ("token_id","seq");--> statement-breakpoint
CREATE INDEX "certificate_events_block_idx" ON "chain"."certificate_events" USING btree ("chain_id","block_number");--> statement-breakpoint
CREATE INDEX "certificates_holder_idx" ON "chain"."certificates" USING btree ("holder");--> statement-breakpoint
CREATE INDEX "chain_logs_block_idx" ON "chain"."chain_logs" USING btree ("chain_id","block_number");--> statement-breakpoint
CREATE INDEX "outbox_unpublished_idx" ON "chain"."outbox" USING btree ("seq") WHERE "chain"."outbox"."published_at" is null;--> statement-breakpoint
CREATE INDEX "transaction_attempts_tx_idx" ON "chain"."transaction_attempts" USING btree ("transaction_id");--> statement-breakpoint
CREATE INDEX "transactions_listing_idx" ON "chain"."transactions" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "transactions_open_idx" ON "chain"."transactions" USING btree ("nonce") WHERE "chain"."transactions"."status" in ('PENDING', 'SUBMITTED');