import type { Context } from 'hono';
import type { z, ZodType } from 'zod';
import { GatewayError, invalidField } from '../lib/errors';

/** Parses a JSON body against a schema: a bad body is a 400 that names the field. */
export async function parseBody<S extends ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new GatewayError('invalid_request', 'Request body is not valid JSON.');
  }
  return parseWith(schema, raw);
}

export function parseQuery<S extends ZodType>(c: Context, schema: S): z.infer<S> {
  return parseWith(schema, c.req.query());
}

export function parseWith<S extends ZodType>(schema: S, raw: unknown): z.infer<S> {
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw invalidField(issue.path, issue.message);
  }
  return result.data;
}
