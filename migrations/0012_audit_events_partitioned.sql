-- audit_events partitioned by month on started_at (issue 12). Native range partitioning: one table
-- per calendar month (UTC), named audit_events_pYYYYMM, plus a DEFAULT partition for rows outside
-- every monthly one, so an insert never fails for want of a partition. The primary key includes the
-- partition key: (started_at, id). The admin Worker's daily cron calls the two functions below
-- (admin/event-partitions.ts): it creates the next months ahead and drops the months older than
-- AUDIT_RETENTION_MONTHS.
ALTER TABLE "audit_events" RENAME TO "audit_events_unpartitioned";--> statement-breakpoint
ALTER TABLE "audit_events_unpartitioned" RENAME CONSTRAINT "audit_events_pkey" TO "audit_events_unpartitioned_pkey";--> statement-breakpoint
ALTER INDEX "audit_events_org_started_idx" RENAME TO "audit_events_unpartitioned_org_started_idx";--> statement-breakpoint
ALTER INDEX "audit_events_key_started_idx" RENAME TO "audit_events_unpartitioned_key_started_idx";--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" uuid NOT NULL,
	"request_id" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone NOT NULL,
	"org_id" uuid,
	"key_id" text,
	"provider" text,
	"model" text,
	"endpoint" text NOT NULL,
	"stream" boolean NOT NULL,
	"status" integer NOT NULL,
	"error_type" text,
	"input_tokens" bigint,
	"output_tokens" bigint,
	"cache_read_tokens" bigint,
	"cache_write_tokens" bigint,
	"cost_usd" numeric(20, 10),
	"latency_ms" bigint NOT NULL,
	"ttfb_ms" bigint,
	"stored_at" timestamp with time zone DEFAULT now() NOT NULL,
	"reasoning_tokens" bigint,
	"route" text,
	"attempt_count" integer DEFAULT 0 NOT NULL,
	"attempts" jsonb DEFAULT '[]'::jsonb NOT NULL,
	CONSTRAINT "audit_events_pkey" PRIMARY KEY ("started_at", "id")
) PARTITION BY RANGE ("started_at");--> statement-breakpoint
CREATE INDEX "audit_events_org_started_idx" ON "audit_events" USING btree ("org_id","started_at");--> statement-breakpoint
CREATE INDEX "audit_events_key_started_idx" ON "audit_events" USING btree ("key_id","started_at");--> statement-breakpoint
CREATE TABLE "audit_events_default" PARTITION OF "audit_events" DEFAULT;--> statement-breakpoint
-- Creates the partition of the month holding `month` (if missing). Rows of that month already in
-- the DEFAULT partition are moved into it first, so attaching never fails.
CREATE FUNCTION routero_ensure_event_partition(month timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  lo timestamptz := date_trunc('month', month AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  hi timestamptz := (date_trunc('month', month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
  name text := 'audit_events_p' || to_char(month AT TIME ZONE 'UTC', 'YYYYMM');
BEGIN
  IF to_regclass(name) IS NOT NULL THEN
    RETURN NULL;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE audit_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
  EXECUTE format('WITH moved AS (DELETE FROM audit_events_default WHERE started_at >= %L AND started_at < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, name);
  EXECUTE format('ALTER TABLE audit_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
  RETURN name;
END $$;--> statement-breakpoint
-- Drops every monthly partition that ends on or before `cutoff`, and deletes the DEFAULT
-- partition's rows before it. Returns the dropped partitions' names.
CREATE FUNCTION routero_drop_event_partitions_before(cutoff timestamptz) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  part record;
  upper_bound timestamptz;
BEGIN
  FOR part IN
    SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'audit_events'::regclass AND c.relname ~ '^audit_events_p[0-9]{6}$'
    ORDER BY c.relname
  LOOP
    upper_bound := substring(part.bound FROM 'TO \(''([^'']+)''\)')::timestamptz;
    IF upper_bound <= cutoff THEN
      EXECUTE format('DROP TABLE %I', part.relname);
      RETURN NEXT part.relname;
    END IF;
  END LOOP;
  DELETE FROM audit_events_default WHERE started_at < cutoff;
END $$;--> statement-breakpoint
INSERT INTO "audit_events" ("id", "request_id", "started_at", "finished_at", "org_id", "key_id", "provider", "model", "endpoint", "stream", "status", "error_type", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd", "latency_ms", "ttfb_ms", "stored_at", "reasoning_tokens", "route", "attempt_count", "attempts")
  SELECT "id", "request_id", "started_at", "finished_at", "org_id", "key_id", "provider", "model", "endpoint", "stream", "status", "error_type", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd", "latency_ms", "ttfb_ms", "stored_at", "reasoning_tokens", "route", "attempt_count", "attempts" FROM "audit_events_unpartitioned";--> statement-breakpoint
-- A partition for every month that has rows, and for this month and the next two.
SELECT routero_ensure_event_partition(m) FROM (
  SELECT DISTINCT date_trunc('month', started_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m FROM "audit_events_unpartitioned"
  UNION SELECT now() UNION SELECT now() + interval '1 month' UNION SELECT now() + interval '2 months'
) months;--> statement-breakpoint
DROP TABLE "audit_events_unpartitioned";
