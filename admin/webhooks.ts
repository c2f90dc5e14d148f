/**
 * Budget alert webhooks (DESIGN §8, decision 0016). When the consumer settles a priced event into a
 * budget counter and the spend crosses one of the organisation's thresholds (default 50, 80,
 * 100 %), a delivery row is written — unique per (subject, period, threshold), so each threshold
 * fires once per period — and queued. The queue consumer signs each delivery per the Standard
 * Webhooks specification (the `standardwebhooks` library: `webhook-id`, `webhook-timestamp`,
 * `webhook-signature`) and POSTs it; a failure is retried with exponential backoff and every
 * attempt is kept in the row (the delivery log in the UI and the API).
 */
import { and, desc, eq } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import { openSecret, sealSecret, type SecretBinding } from '../lib/crypto/aes-gcm';
import { GatewayError } from '../lib/errors';
import { checkUpstreamBaseUrl } from '../lib/net/host';
import { log } from '../lib/log';
import { activeKeyRing } from './actions';
import { closePool, openDatabase, type DbTransaction, type Queryable } from './db/client';
import { orgWebhooks, webhookDeliveries } from './db/schema';
import type { AdminEnv } from './env';
import type { CrossedAlert } from './limits';

export const WEBHOOK_QUEUE = 'routero-webhooks';
/** Must match `max_retries` of the routero-webhooks consumer in admin/wrangler.toml. */
export const WEBHOOK_MAX_RETRIES = 8;
const DELIVERY_TIMEOUT_MS = 10_000;

const binding = (orgId: string): SecretBinding => ({ recordId: orgId, orgId, provider: 'webhook', purpose: 'alert-webhook-secret' });

/** Seconds before attempt n+1: 2, 4, 8 … capped at an hour (a multiple of WEBHOOK_RETRY_BASE_SECONDS). */
export function webhookBackoffSeconds(attempts: number, base = 2): number {
  return Math.min(3600, base * 2 ** Math.max(0, attempts - 1));
}

/**
 * Validates and seals an organisation's alert webhook; returns the write to run inside the
 * change's transaction (null removes it).
 */
export async function setAlertWebhook(env: AdminEnv, orgId: string, input: { url: string; secret: string } | null): Promise<(tx: DbTransaction) => Promise<void>> {
  if (!input) return async (tx) => void (await tx.delete(orgWebhooks).where(eq(orgWebhooks.org_id, orgId)));
  const checked = checkUpstreamBaseUrl(input.url, env.ALLOW_PRIVATE_UPSTREAMS === 'true');
  if (!checked.ok) throw new GatewayError('invalid_request', `Invalid request: 'alert_webhook.url': ${checked.reason}`, { param: 'alert_webhook.url' });
  const ring = await activeKeyRing(env);
  const sealed = await sealSecret(ring, binding(orgId), input.secret);
  return async (tx) => {
    await tx
      .insert(orgWebhooks)
      .values({ org_id: orgId, url: input.url, ...sealed })
      .onConflictDoUpdate({ target: orgWebhooks.org_id, set: { url: input.url, ...sealed } });
  };
}

/** Records the crossed thresholds (once each) and queues their delivery. */
export async function enqueueAlerts(env: AdminEnv, db: Queryable, crossed: CrossedAlert[]): Promise<number> {
  let queued = 0;
  for (const c of crossed) {
    const id = crypto.randomUUID();
    const payload = {
      type: 'budget.threshold_crossed',
      timestamp: new Date().toISOString(),
      data: {
        org_id: c.orgId,
        subject: { type: c.subject.kind, id: c.subject.id },
        threshold_percent: c.threshold,
        budget_usd: c.budget,
        spent_usd: Number(c.spent.toFixed(6)),
        period: c.period,
        period_start: new Date(c.periodStart).toISOString(),
        resets_at: new Date(c.periodEnd).toISOString(),
      },
    };
    const [row] = await db
      .insert(webhookDeliveries)
      .values({ id, org_id: c.orgId, subject_kind: c.subject.kind, subject_id: c.subject.id, period_start: new Date(c.periodStart), threshold: c.threshold, payload })
      .onConflictDoNothing()
      .returning({ id: webhookDeliveries.id });
    if (!row) continue;
    log('info', 'budget threshold crossed', { org_id: c.orgId, subject: `${c.subject.kind}:${c.subject.id}`, threshold: c.threshold });
    if (env.WEBHOOK_QUEUE) {
      await env.WEBHOOK_QUEUE.send({ delivery_id: row.id });
      queued++;
    }
  }
  return queued;
}

/** The queue consumer: one signed POST per message; failures retried with backoff. */
export async function deliverBatch(batch: MessageBatch<unknown>, env: AdminEnv, ctx: ExecutionContext): Promise<void> {
  const { db, pool } = openDatabase(env);
  const base = Number(env.WEBHOOK_RETRY_BASE_SECONDS) > 0 ? Number(env.WEBHOOK_RETRY_BASE_SECONDS) : 2;
  try {
    for (const msg of batch.messages) {
      const id = (msg.body as { delivery_id?: unknown } | null)?.delivery_id;
      if (typeof id !== 'string') {
        msg.ack();
        continue;
      }
      try {
        const done = await deliverOne(env, db, id, msg.attempts >= WEBHOOK_MAX_RETRIES + 1);
        if (done) msg.ack();
        else msg.retry({ delaySeconds: webhookBackoffSeconds(msg.attempts, base) });
      } catch (e) {
        log('warn', 'webhook delivery errored; will retry', { delivery_id: id, reason: e instanceof Error ? e.message : String(e) });
        msg.retry({ delaySeconds: webhookBackoffSeconds(msg.attempts, base) });
      }
    }
  } finally {
    ctx.waitUntil(closePool(pool));
  }
}

/** True when nothing more is to be done (delivered, given up, or gone). */
async function deliverOne(env: AdminEnv, db: Queryable, id: string, lastAttempt: boolean): Promise<boolean> {
  const [row] = await db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, id)).limit(1);
  if (!row || row.status !== 'pending') return true;
  const [hook] = await db.select().from(orgWebhooks).where(eq(orgWebhooks.org_id, row.org_id)).limit(1);
  const fail = async (status: number | null, error: string, final: boolean) => {
    await db
      .update(webhookDeliveries)
      .set({ attempts: row.attempts + 1, last_status: status, last_error: error.slice(0, 500), ...(final ? { status: 'failed' as const } : {}) })
      .where(eq(webhookDeliveries.id, id));
    return final;
  };
  if (!hook) return fail(null, 'no alert webhook is configured for the organisation', true);
  const checked = checkUpstreamBaseUrl(hook.url, env.ALLOW_PRIVATE_UPSTREAMS === 'true');
  if (!checked.ok) return fail(null, `webhook URL refused: ${checked.reason}`, true);
  const secret = await openSecret(await activeKeyRing(env), binding(row.org_id), hook);
  const body = JSON.stringify(row.payload);
  const now = new Date();
  const signature = new Webhook(secret).sign(id, now, body);
  let res: Response;
  try {
    res = await fetch(hook.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Routero-Webhooks/1',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body,
    });
    await res.body?.cancel().catch(() => undefined);
  } catch (e) {
    return fail(null, `request failed: ${e instanceof Error ? e.message : String(e)}`, lastAttempt);
  }
  if (res.status >= 200 && res.status < 300) {
    await db
      .update(webhookDeliveries)
      .set({ status: 'delivered', attempts: row.attempts + 1, last_status: res.status, last_error: null, delivered_at: new Date() })
      .where(eq(webhookDeliveries.id, id));
    return true;
  }
  return fail(res.status, `receiver answered HTTP ${res.status}`, lastAttempt);
}

/** The delivery log of one organisation, newest first. */
export async function listDeliveries(db: Queryable, orgId: string, limit = 100) {
  const rows = await db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.org_id, orgId)))
    .orderBy(desc(webhookDeliveries.created_at))
    .limit(limit);
  return rows.map((r) => ({
    id: r.id,
    subject: { type: r.subject_kind, id: r.subject_id },
    threshold_percent: r.threshold,
    period_start: r.period_start,
    status: r.status,
    attempts: r.attempts,
    last_status: r.last_status,
    last_error: r.last_error,
    created_at: r.created_at,
    delivered_at: r.delivered_at,
  }));
}
