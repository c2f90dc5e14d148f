/** The metadata-events table (requests page, a key's page), with key and organisation names. */
import type { listEvents } from '../queries';
import { fmtCost, fmtTime } from './layout';

type EventRow = Awaited<ReturnType<typeof listEvents>>['data'][number];

export function EventsTable({ rows, orgNames, keyNames }: { rows: EventRow[]; orgNames: Map<string, string>; keyNames: Map<string, string> }) {
  return (
    <table data-testid="events-table">
      <thead><tr><th>time</th><th>org</th><th>key</th><th>model</th><th>status</th><th>tokens in/out</th><th>cost</th><th>latency</th></tr></thead>
      <tbody>
        {rows.map((e) => (
          <tr>
            <td>{fmtTime(e.started_at)}</td>
            <td>{e.org_id ? orgNames.get(e.org_id) ?? <code>{e.org_id.slice(0, 8)}</code> : '—'}</td>
            <td>{e.key_id ? <>{keyNames.get(e.key_id) ?? ''} <code class="muted">{e.key_id}</code></> : '—'}</td>
            <td>{e.model ?? '—'}</td>
            <td><span class={`badge ${e.status < 400 ? 'allowed' : 'failed'}`}>{e.status}</span></td>
            <td>{`${e.input_tokens ?? '—'} / ${e.output_tokens ?? '—'}`}</td><td>{fmtCost(e.cost_usd)}</td><td>{`${e.latency_ms} ms`}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
