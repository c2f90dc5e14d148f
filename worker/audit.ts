/**
 * One metadata event per data-plane request, whatever its outcome (DESIGN §3.8, §4.6). The
 * recorder collects attribution as the request proceeds and sends exactly once. Never content.
 */
import { emptyUsage, type AuditEvent, type Usage } from '../lib/audit/event';
import { uuidv7 } from '../lib/crypto/encoding';
import { log } from './log';

export class AuditRecorder {
  orgId: string | null = null;
  keyId: string | null = null;
  provider: string | null = null;
  model: string | null = null;
  stream = false;
  private firstByteAt: number | null = null;
  private sent = false;

  constructor(
    private readonly queue: Queue<AuditEvent> | undefined,
    private readonly waitUntil: (p: Promise<unknown>) => void,
    readonly requestId: string,
    readonly endpoint: string,
    readonly startedAt: number = Date.now(),
  ) {}

  markFirstByte(now = Date.now()): void {
    this.firstByteAt ??= now;
  }

  get finished(): boolean {
    return this.sent;
  }

  finish(status: number, errorType: string | null, usage: Usage = emptyUsage(), now = Date.now()): void {
    if (this.sent) return;
    this.sent = true;
    const event: AuditEvent = {
      id: uuidv7(this.startedAt),
      request_id: this.requestId,
      started_at: new Date(this.startedAt).toISOString(),
      finished_at: new Date(now).toISOString(),
      org_id: this.orgId,
      key_id: this.keyId,
      provider: this.provider,
      model: this.model,
      endpoint: this.endpoint,
      stream: this.stream,
      status,
      error_type: errorType,
      ...usage,
      latency_ms: now - this.startedAt,
      ttfb_ms: this.firstByteAt === null ? null : this.firstByteAt - this.startedAt,
    };
    if (!this.queue) return;
    this.waitUntil(
      this.queue.send(event, { contentType: 'json' }).catch((e: unknown) => {
        log('error', 'audit event could not be queued', {
          request_id: this.requestId,
          reason: e instanceof Error ? e.message : String(e),
        });
      }),
    );
  }
}
