/**
 * Form helpers for every UI page, in one place: read a posted form, validate it with a zod schema
 * naming the field at fault, and turn a failed action into the message and the real status the
 * page shows (through the one admin error funnel, admin/errors.ts — never forced to 400).
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { z } from 'zod';
import { adminError } from '../errors';

export type FormValues = Record<string, string>;

/** The posted form's text fields (files are dropped). */
export async function formOf(c: Context): Promise<FormValues> {
  const body = await c.req.parseBody();
  // Object.fromEntries defines own properties, so a field named `__proto__` cannot reach the prototype.
  return Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** The message shown next to the form; a server fault never shows its internals. */
export function problem(e: unknown): string {
  const err = adminError(e);
  return err.status >= 500 ? 'Something went wrong; nothing was changed. Try again.' : err.message;
}

/** The real status of a failed action (403 denied, 404 missing, 409 taken, 503 unavailable…). */
export function statusOf(e: unknown): ContentfulStatusCode {
  return adminError(e).status as ContentfulStatusCode;
}

/** zod parse → the value, or the first issue as "field: message". */
export function parse<S extends z.ZodType>(schema: S, raw: unknown): { ok: true; value: z.infer<S> } | { ok: false; message: string } {
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const issue = r.error.issues[0]!;
  return { ok: false, message: `${issue.path.join('.') || 'input'}: ${issue.message}` };
}

/** A textarea of one item per line (or comma separated) → the items. */
export const lines = (v: string | undefined): string[] =>
  (v ?? '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);

/** Space-separated words → the words. */
export const words = (v: string | undefined): string[] => (v ?? '').split(/\s+/).filter(Boolean);

/**
 * `<input type="datetime-local">` sends "YYYY-MM-DDTHH:MM" with no zone; the forms say UTC, so the
 * value gets seconds and a `Z`. Anything else is passed on for the schema to refuse by name.
 */
export function utcFromLocalInput(v: string | undefined): string | undefined {
  if (!v) return undefined;
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d$/.test(v) ? `${v}:00Z` : v;
}

/** Query parameters without empty values (a filter form sends every field). */
export function nonEmptyQuery(c: Context, drop: string[] = []): Record<string, string> {
  return Object.fromEntries(Object.entries(c.req.query()).filter(([k, v]) => v !== '' && !drop.includes(k)));
}
