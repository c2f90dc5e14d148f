/**
 * List endpoints show only what the policy allows (DESIGN §7): ask Cerbos's query planner
 * (`POST /api/plan/resources`) what the principal may `list`, and turn its answer into a SQL filter.
 *
 * - KIND_ALWAYS_ALLOWED → no filter; KIND_ALWAYS_DENIED → 403;
 * - KIND_CONDITIONAL → an expression tree over `request.resource.attr.<name>`, translated operator
 *   by operator (and, or, not, eq, ne, in) onto the columns the caller maps each attribute to.
 * Anything else — an unknown operator, an attribute with no column, a value that is not a string —
 * is refused (deny), never guessed: a filter we do not understand could show too much.
 */
import { and, not, or, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { z } from 'zod';
import { cerbosAccessHeaders } from '../../lib/authz/cerbos';
import { GatewayError } from '../../lib/errors';
import { alert, log } from '../../lib/log';
import type { ActionContext } from '../domain/change';
import { denied, noteDecision } from '../domain/change';

type Operand = { variable: string } | { value: unknown } | { expression: Expression };
interface Expression {
  operator: string;
  operands: Operand[];
}

const operandSchema: z.ZodType<Operand> = z.lazy(() =>
  z.union([z.object({ variable: z.string() }), z.object({ value: z.unknown() }), z.object({ expression: expressionSchema })]),
);
const expressionSchema: z.ZodType<Expression> = z.lazy(() => z.object({ operator: z.string(), operands: z.array(operandSchema) }));

const planResponseSchema = z.object({
  filter: z.object({
    kind: z.enum(['KIND_ALWAYS_ALLOWED', 'KIND_ALWAYS_DENIED', 'KIND_CONDITIONAL']),
    condition: z.object({ expression: expressionSchema }).optional(),
  }),
});

/** Maps a resource attribute (`org_id`, `owner_user_id`) to the SQL it means for this table. */
export type AttrColumns = Partial<Record<string, AnyPgColumn | SQL>>;

class PlanNotUnderstood extends Error {}

const ATTR_PREFIX = 'request.resource.attr.';

function column(op: Operand, columns: AttrColumns): AnyPgColumn | SQL {
  if (!('variable' in op) || !op.variable.startsWith(ATTR_PREFIX)) throw new PlanNotUnderstood(`operand ${JSON.stringify(op)}`);
  const col = columns[op.variable.slice(ATTR_PREFIX.length)];
  if (!col) throw new PlanNotUnderstood(`no column for ${op.variable}`);
  return col;
}

function stringValue(op: Operand): string {
  if (!('value' in op) || typeof op.value !== 'string') throw new PlanNotUnderstood(`value ${JSON.stringify(op)}`);
  return op.value;
}

function toSql(e: Expression, columns: AttrColumns): SQL {
  const [a, b] = e.operands;
  const sub = (op: Operand | undefined): SQL => {
    if (!op || !('expression' in op)) throw new PlanNotUnderstood(`operand of ${e.operator}`);
    return toSql(op.expression, columns);
  };
  switch (e.operator) {
    case 'and':
    case 'or': {
      if (e.operands.length < 2) throw new PlanNotUnderstood(`${e.operator} with ${e.operands.length} operands`);
      const parts = e.operands.map(sub);
      return (e.operator === 'and' ? and(...parts) : or(...parts))!;
    }
    case 'not':
      if (e.operands.length !== 1) throw new PlanNotUnderstood('not with several operands');
      return not(sub(a));
    case 'eq':
    case 'ne': {
      if (e.operands.length !== 2 || !a || !b) throw new PlanNotUnderstood(`${e.operator} arity`);
      const [v, x] = 'variable' in a ? [a, b] : [b, a];
      const col = column(v, columns);
      return e.operator === 'eq' ? sql`${col} = ${stringValue(x)}` : sql`${col} is distinct from ${stringValue(x)}`;
    }
    case 'in': {
      if (e.operands.length !== 2 || !a || !b || !('value' in b) || !Array.isArray(b.value)) throw new PlanNotUnderstood('in without a list');
      const list = b.value.map((v) => {
        if (typeof v !== 'string') throw new PlanNotUnderstood('in with a non-string');
        return v;
      });
      return list.length === 0 ? sql`false` : sql`${column(a, columns)} in (${sql.join(list.map((v) => sql`${v}`), sql`, `)})`;
    }
    default:
      throw new PlanNotUnderstood(`operator ${e.operator}`);
  }
}

/**
 * The SQL filter for rows of `kind` the principal may `action`, or undefined when every row is
 * allowed. Throws 403 when none is, 503 when Cerbos cannot be asked.
 */
export async function planFilter(ctx: ActionContext, kind: string, action: string, columns: AttrColumns): Promise<SQL | undefined> {
  noteDecision(ctx, kind, action);
  const { principal } = ctx;
  let body: unknown;
  try {
    const res = await fetch(`${ctx.env.CERBOS_URL!.replace(/\/$/, '')}/api/plan/resources`, {
      method: 'POST',
      headers: { ...cerbosAccessHeaders(ctx.env), 'content-type': 'application/json' },
      redirect: 'manual',
      body: JSON.stringify({ requestId: ctx.meta.requestId, action, principal: { id: principal.id, roles: principal.roles, attr: principal.attr }, resource: { kind } }),
      signal: AbortSignal.timeout(2_000),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = await res.json();
  } catch (e) {
    alert('cerbos_unreachable', 'Cerbos could not be asked for a query plan: request refused', { reason: e instanceof Error ? e.message : String(e) });
    throw new GatewayError('unavailable', 'The policy service is unavailable; try again shortly.', { reason: `cerbos plan: ${e instanceof Error ? e.message : String(e)}` });
  }
  const parsed = planResponseSchema.safeParse(body);
  if (!parsed.success) throw new GatewayError('unavailable', 'The policy service gave an answer this server does not understand.', { reason: 'cerbos plan body' });
  const { filter } = parsed.data;
  if (filter.kind === 'KIND_ALWAYS_ALLOWED') return undefined;
  if (filter.kind === 'KIND_ALWAYS_DENIED' || !filter.condition) throw denied({ kind }, action, principal);
  try {
    return toSql(filter.condition.expression, columns);
  } catch (e) {
    log('error', 'cerbos plan not understood; denying', { request_id: ctx.meta.requestId, kind, action, reason: e instanceof Error ? e.message : String(e) });
    throw denied({ kind }, action, principal);
  }
}

export const __test = { toSql, PlanNotUnderstood };
