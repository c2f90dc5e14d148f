/**
 * SCIM parsing rules that real clients depend on, without a stack: filters (case rules of RFC 7643
 * §2.1/§2.2, the `emails[type eq "work"].value` form), PATCH normalisation (Entra ID's capitalised
 * ops and `"False"`, Okta's path-less replace, member removal by value with `$ref: null`), the User
 * parser (password never kept), and the SCIM error body.
 */
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../lib/errors';
import { scimErrorBody } from '../../admin/scim/errors';
import { parseScimFilter } from '../../admin/scim/filter';
import { memberValuesOnly } from '../../admin/scim/groups';
import { applyPatch, GROUP_ATTRIBUTES, USER_ATTRIBUTES } from '../../admin/scim/patch';
import { parseScimUser } from '../../admin/scim/user-resource';

const alice = { userName: 'Alice@Example.com', externalId: 'ExT-1', active: true, emails: [{ type: 'work', value: 'Alice@Example.com', primary: true }], name: { givenName: 'Alice' } };
const bob = { userName: 'bob@example.com', externalId: 'ext-2', active: false, emails: [{ type: 'home', value: 'bob@home.example' }] };
const matching = (filter: string) => [alice, bob].filter((r) => parseScimFilter(filter)!.matches(r)).map((r) => r.userName);

describe('SCIM filters', () => {
  it('compares userName and emails case-insensitively, externalId exactly, attribute names in any case', () => {
    expect(matching('userName eq "alice@example.com"')).toEqual(['Alice@Example.com']);
    expect(matching('USERNAME Eq "ALICE@EXAMPLE.COM"')).toEqual(['Alice@Example.com']);
    expect(matching('externalId eq "ext-1"')).toEqual([]);
    expect(matching('externalId eq "ExT-1"')).toEqual(['Alice@Example.com']);
    expect(matching('emails[type eq "work"].value eq "alice@example.com"')).toEqual(['Alice@Example.com']);
    expect(matching('emails[type eq "work"].value eq "bob@home.example"')).toEqual([]);
    expect(matching('userName eq "x" or active eq false')).toEqual(['bob@example.com']);
    expect(matching('name.givenName pr and active eq true')).toEqual(['Alice@Example.com']);
  });

  it('recognises the lookups that have an index, and refuses what is not a filter', () => {
    expect(parseScimFilter('userName eq "A@B.C"')!.simpleEq).toEqual({ attr: 'username', value: 'a@b.c' });
    expect(parseScimFilter('externalId eq "AbC"')!.simpleEq).toEqual({ attr: 'externalid', value: 'AbC' });
    expect(parseScimFilter('userName eq "a" and active eq true')!.simpleEq).toBeNull();
    expect(parseScimFilter(undefined)).toBeNull();
    expect(parseScimFilter('  ')).toBeNull();
    for (const bad of ['userName eq', 'userName xx "a"', '(userName eq "a"', 'x'.repeat(3000)]) {
      expect(() => parseScimFilter(bad), bad).toThrow(GatewayError);
      try {
        parseScimFilter(bad);
      } catch (e) {
        expect((e as GatewayError).code).toBe('invalidFilter');
      }
    }
  });
});

const patch = (ops: unknown[]) => ({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: ops });

describe('SCIM PATCH', () => {
  it("applies Okta's path-less replace and Entra ID's capitalised ops, 'False', and filtered email paths", () => {
    expect(applyPatch(alice, patch([{ op: 'replace', value: { active: false } }]), USER_ATTRIBUTES).active).toBe(false);
    const entra = applyPatch(
      alice,
      patch([
        { op: 'Replace', path: 'active', value: 'False' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'new@example.com' },
        { op: 'Add', path: 'Name.familyName', value: 'Adams' },
      ]),
      USER_ATTRIBUTES,
    );
    expect(parseScimUser(entra).input.active).toBe(false);
    expect(entra.emails).toEqual([{ type: 'work', value: 'new@example.com', primary: true }]);
    expect(entra.name).toEqual({ givenName: 'Alice', familyName: 'Adams' });
  });

  it('refuses a remove without a path (noTarget), an unknown op, and a body without Operations', () => {
    const code = (body: unknown) => {
      try {
        applyPatch(alice, body, USER_ATTRIBUTES);
        return 'applied';
      } catch (e) {
        return (e as GatewayError).code;
      }
    };
    expect(code(patch([{ op: 'remove' }]))).toBe('noTarget');
    expect(code(patch([{ op: 'move', path: 'active' }]))).toBe('invalidSyntax');
    expect(code({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'] })).toBe('invalidSyntax');
    expect(code(patch([{ op: 'replace', value: 'not an object' }]))).toBe('invalidValue');
  });

  it('refuses prototype paths and prototype keys in values, so no patch can reach Object.prototype', () => {
    const code = (body: unknown, attributes = USER_ATTRIBUTES) => {
      try {
        applyPatch(alice, body, attributes);
        return 'applied';
      } catch (e) {
        return (e as GatewayError).code;
      }
    };
    const paths = ['__proto__.platform_admin', '__PROTO__.platform_admin', 'constructor.prototype.platform_admin', 'name.__proto__.platform_admin', 'emails[__proto__ eq "x"].value', 'emails[type eq "work"].constructor', 'urn:ietf:params:scim:schemas:core:2.0:User:__proto__.platform_admin', 'Prototype'];
    for (const op of ['add', 'replace', 'Add', 'remove']) {
      for (const path of paths) {
        expect(code(patch([{ op, path, value: true }])), `${op} ${path}`).toBe('invalidPath');
        expect(code(patch([{ op, path, value: true }]), GROUP_ATTRIBUTES), `group ${op} ${path}`).toBe('invalidPath');
      }
    }
    // Values as JSON.parse makes them: "__proto__" is an own key, at any depth.
    const values = ['{"__proto__":{"platform_admin":true}}', '{"name":{"__proto__":{"platform_admin":true}}}', '{"constructor":{"prototype":{"platform_admin":true}}}', '{"emails":[{"value":"a@b.c","__proto__":{"platform_admin":true}}]}'];
    for (const value of values) {
      expect(code(JSON.parse(`{"Operations":[{"op":"add","value":${value}}]}`)), value).toBe('invalidValue');
      expect(code(JSON.parse(`{"Operations":[{"op":"replace","path":"name","value":${value}}]}`)), value).toBe('invalidValue');
      expect(() => parseScimUser(JSON.parse(`{"userName":"a@b.c","x":${value}}`)), value).toThrow(GatewayError);
    }
    expect(({} as Record<string, unknown>).platform_admin).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('platform_admin');
    // A filter literal that happens to spell one of the names is data, not a path.
    expect(code(patch([{ op: 'replace', path: 'emails[value eq "constructor@example.com"].type', value: 'work' }]))).toBe('applied');
  });

  it('removes group members by value, as Entra ID sends them ($ref: null) and as Okta does (filter path)', () => {
    const group = { displayName: 'g', members: [{ value: 'u1' }, { value: 'u2' }] };
    const entra = applyPatch(group, memberValuesOnly(patch([{ op: 'Remove', path: 'members', value: [{ $ref: null, value: 'u1' }] }])), GROUP_ATTRIBUTES);
    expect(entra.members).toEqual([{ value: 'u2' }]);
    const okta = applyPatch(group, patch([{ op: 'remove', path: 'members[value eq "u2"]' }]), GROUP_ATTRIBUTES);
    expect(okta.members).toEqual([{ value: 'u1' }]);
    const added = applyPatch(group, memberValuesOnly(patch([{ op: 'Add', path: 'members', value: [{ $ref: null, value: 'u3', display: 'x' }] }])), GROUP_ATTRIBUTES);
    expect(added.members).toEqual([{ value: 'u1' }, { value: 'u2' }, { value: 'u3' }]);
  });
});

describe('SCIM User parser and errors', () => {
  it('never keeps a password, picks the sign-in email, and needs one', () => {
    const parsed = parseScimUser({ userName: 'x', password: 'secret-pw', emails: [{ type: 'home', value: 'h@x.test' }, { type: 'work', value: 'W@X.test' }] });
    expect(JSON.stringify(parsed.attributes)).not.toContain('secret-pw');
    expect(parsed.email).toBe('w@x.test');
    expect(() => parseScimUser({ userName: 'no-email' })).toThrow(/email/);
    expect(() => parseScimUser({ userName: '' })).toThrow(GatewayError);
    expect(() => parseScimUser([])).toThrow(GatewayError);
  });

  it('builds the RFC 7644 §3.12 error body with status as a string', () => {
    const body = scimErrorBody(new GatewayError('invalid_request', 'taken', { status: 409, code: 'uniqueness' }));
    expect(body).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '409', scimType: 'uniqueness', detail: 'taken' });
    expect(scimErrorBody(new GatewayError('authentication', 'whatever', { reason: 'secret detail' })).detail).toBe('Invalid or revoked SCIM bearer token.');
  });
});
