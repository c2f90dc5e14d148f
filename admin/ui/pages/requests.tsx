/** UI page: requests — metadata events (never content), policy-filtered, with key and organisation names. */
import { planFilter } from '../../auth/plan';
import { actionContext } from '../../middleware';
import { eventVisibility, listEvents } from '../../queries';
import { route, type AdminRoute } from '../../route-table';
import { eventsQuerySchema } from '../../schemas';
import { EventsTable } from '../events-table';
import { nonEmptyQuery, parse } from '../forms';
import { ErrorBox, Layout } from '../layout';
import { keyNames, orgNames } from '../names';
import type { UiContext, UiEnv } from '../session-middleware';

async function requestsPage(c: UiContext) {
  const parsed = parse(eventsQuerySchema, nonEmptyQuery(c));
  const q = parsed.ok ? parsed.value : eventsQuerySchema.parse({});
  const page = await listEvents(c.var.db, q, await planFilter(actionContext(c), 'event', 'list', eventVisibility));
  const [orgs, keys] = await Promise.all([orgNames(c.var.db, page.data.map((e) => e.org_id)), keyNames(c.var.db, page.data.map((e) => e.key_id))]);
  const next = new URLSearchParams({ ...nonEmptyQuery(c, ['cursor']), ...(page.next_cursor ? { cursor: page.next_cursor } : {}) });
  return c.html(
    <Layout title="Requests" page={c.var.page}>
      <p class="muted">Metadata only: Routero never stores prompts or responses.</p>
      {parsed.ok ? null : <ErrorBox message={parsed.message} />}
      <form class="filters" method="get" action="/ui/requests">
        <div><label for="r-key">Key id</label><input type="text" id="r-key" name="key_id" value={q.key_id ?? ''} /></div>
        <div><label for="r-model">Model</label><input type="text" id="r-model" name="model" value={q.model ?? ''} /></div>
        <div><label for="r-status">Status</label><input type="text" id="r-status" name="status" value={q.status === undefined ? '' : String(q.status)} /></div>
        <button class="secondary" type="submit">Filter</button>
      </form>
      <EventsTable rows={page.data} orgNames={orgs} keyNames={keys} />
      {page.next_cursor ? <p class="pager"><a href={`/ui/requests?${next.toString()}`}>Older requests →</a></p> : null}
    </Layout>,
  );
}

export const REQUEST_ROUTES: AdminRoute<UiEnv>[] = [route('GET', '/requests', 'event', 'list', requestsPage)];
