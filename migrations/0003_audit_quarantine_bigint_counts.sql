CREATE TABLE "audit_quarantine" (
	"id" uuid PRIMARY KEY NOT NULL,
	"message_key" text NOT NULL,
	"request_id" text,
	"queue" text NOT NULL,
	"reason" text NOT NULL,
	"raw" jsonb,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "audit_quarantine_message_key_unique" UNIQUE("message_key")
);
--> statement-breakpoint
ALTER TABLE "audit_events" ALTER COLUMN "input_tokens" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "audit_events" ALTER COLUMN "output_tokens" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "audit_events" ALTER COLUMN "cache_read_tokens" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "audit_events" ALTER COLUMN "cache_write_tokens" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "audit_events" ALTER COLUMN "latency_ms" SET DATA TYPE bigint;--> statement-breakpoint
ALTER TABLE "audit_events" ALTER COLUMN "ttfb_ms" SET DATA TYPE bigint;--> statement-breakpoint
CREATE INDEX "audit_quarantine_received_idx" ON "audit_quarantine" USING btree ("received_at");