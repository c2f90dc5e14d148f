ALTER TABLE "virtual_keys" ADD COLUMN "previous_secret_hash" text;--> statement-breakpoint
ALTER TABLE "virtual_keys" ADD COLUMN "previous_secret_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "virtual_keys" ADD COLUMN "rotated_at" timestamp with time zone;