/**
 * Turns a session into a principal on every request, cheaply (one query): the user must still be
 * active and still a member of some organisation (or a platform admin). Otherwise the session is
 * ended on the spot (DESIGN §7: sessions end when the user is suspended or loses their membership).
 */
import type { Principal } from '../../lib/authz/cerbos';
import type { Database } from '../db/client';
import { activeUserWithMemberships } from '../domain/users';
import type { AdminEnv } from '../env';
import { endSessionById, type Session } from '../session';
import { masterPrincipal, userPrincipal } from './principal';

/** `MASTER_KEY_UI_LOGIN=false` switches the master key's UI login off (the API keeps it). */
export function masterUiLoginEnabled(env: AdminEnv): boolean {
  return env.MASTER_KEY_UI_LOGIN !== 'false';
}

export async function sessionPrincipal(db: Database, env: AdminEnv, session: Session): Promise<Principal | null> {
  if (session.userId === null) {
    if (session.actor !== 'master' || !masterUiLoginEnabled(env)) {
      await endSessionById(db, session.id);
      return null;
    }
    return masterPrincipal(session.loginMethod);
  }
  const found = await activeUserWithMemberships(db, session.userId);
  if (!found) {
    await endSessionById(db, session.id);
    return null;
  }
  return userPrincipal(found.user, found.memberships, { loginMethod: session.loginMethod, mfa: session.mfa });
}
