// Authentication and audiences (DESIGN §2.4, §2.6) against the real
// processes: WAMP ticket auth with ws and resume tokens, refusals (each an
// ABORT wamp.error.authentication_failed whose only detail is the message
// "authentication failed", after which the edge keeps serving), single use
// of a ws token across edges, secret rotation, resume across an edge
// restart, and the audience matrix (anonymous / user / staff / group member
// x public / authenticated / staff / group:ops, exact and prefix
// subscriptions, to_users, telegraphy.events.list).
//
// Tokens are minted here with node:crypto (harness mintToken, checked
// against the shared vectors first), so that malformed ones can be made on
// purpose; one test uses `telegraphy-ctl token`.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import {
  Gateway, RawWamp, WAMP, WampError, REPO_ROOT, delay, mintToken, newJti, runCtl, signTokenPart, tokenPayload,
  waitFor,
} from './harness.mjs';

const SECRET = 'it-auth-secret-0123456789abcdef-current';
const OLD_SECRET = 'it-auth-secret-0123456789abcdef-previous';
const AUTH_FAILED = 'wamp.error.authentication_failed';
const NOT_AUTHORIZED = 'wamp.error.not_authorized';

const T = {
  public: 'authz.pub.news',
  authenticated: 'authz.auth.news',
  staff: 'authz.staff.news',
  'group:ops': 'authz.ops.news',
};
const SENTINEL = 'authz.zz.sentinel'; // public, published last
const PROBE = 'authz.probe.ping'; // public, for "the edge keeps serving"
const AUDIENCES = Object.keys(T);

// Who may see what (DESIGN §2.6): anonymous = public only; a sub makes a
// session authenticated; staff = group "staff"; group:ops = group "ops".
const ROLES = {
  anonymous: { sub: null, grp: [], sees: ['public'] },
  user: { sub: '42', grp: [], sees: ['public', 'authenticated'] },
  staff: { sub: '7', grp: ['staff'], sees: ['public', 'authenticated', 'staff'] },
  ops: { sub: '9', grp: ['ops'], sees: ['public', 'authenticated', 'group:ops'] },
};

const now = () => Math.floor(Date.now() / 1000);

function wsPayload({ sub = '42', name = 'alice', grp = [], ttl = 60, ...rest } = {}) {
  const p = { typ: 'ws' };
  if (sub !== null) p.sub = sub;
  if (name !== null) p.name = name;
  p.grp = grp;
  p.exp = now() + ttl;
  p.jti = newJti();
  return { ...p, ...rest };
}

function wsToken(opts = {}, secret = SECRET) {
  return mintToken(secret, wsPayload(opts));
}

function resumeToken({ sub = '42', name = 'alice', grp = [], cid = 'it-client', ttl = 3600 } = {}, secret = SECRET) {
  const p = { typ: 'resume' };
  if (sub !== null) p.sub = sub;
  p.name = name;
  p.grp = grp;
  p.exp = now() + ttl;
  p.jti = newJti();
  p.cid = cid;
  return mintToken(secret, p);
}

async function open(gw, i = 0) {
  return gw.track(await RawWamp.open(gw.edgeUrl(i)));
}

// A ticket session on edge i; resolves with {c, details}.
async function ticket(gw, token, { edge = 0, authid } = {}) {
  const c = await open(gw, edge);
  const welcome = await c.helloTicket(token, { authid });
  return { c, details: welcome[2] };
}

async function anonymous(gw, edge = 0) {
  const c = await open(gw, edge);
  await c.hello();
  return { c };
}

// The token is refused: ABORT authentication_failed whose details say
// "authentication failed" and nothing else, and the edge closes.
async function assertRefused(gw, token, { edge = 0, authid, authmethods } = {}) {
  const c = await open(gw, edge);
  let err = null;
  try {
    await c.helloTicket(token, { authid, authmethods });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof WampError, `expected an ABORT, got ${err ? err.message : 'a WELCOME: ' + JSON.stringify(c.welcome)}`);
  const abort = err.msg;
  assert.equal(abort[0], WAMP.ABORT);
  assert.equal(abort[2], AUTH_FAILED);
  assert.deepEqual(abort[1], { message: 'authentication failed' }, 'the ABORT carries no detail beyond its message');
  assert.ok(c.challenge, 'the edge sent a CHALLENGE before refusing the token');
  await waitFor('the edge to close the refused connection', () => c.closeInfo, { timeoutMs: 5000 });
}

// The edge keeps serving: a fresh authenticated session subscribes and
// receives an event published now.
async function assertServing(gw, edge = 0) {
  const { c } = await ticket(gw, wsToken({ sub: '500' }), { edge });
  const sub = await c.subscribe(PROBE);
  const mark = newJti();
  await gw.publish(PROBE, { mark });
  await c.nextEvent(5000, (m) => m[1] === sub && m[5]?.mark === mark);
}

function assertWelcome(details, { authid, authrole }) {
  assert.equal(details.authid, authid);
  assert.equal(details.authrole, authrole);
  assert.equal(details.authmethod, 'ticket');
  const extra = details.authextra;
  assert.ok(extra && typeof extra === 'object', 'WELCOME has authextra');
  assert.equal(typeof extra.client_id, 'string');
  assert.ok(extra.client_id.length > 0, 'client_id is not empty');
  assert.match(extra.resume_token, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.ok(Number.isInteger(extra.resume_expires), 'resume_expires is an integer (unix seconds)');
  // Default TELEGRAPHY_RESUME_TTL is 24 h.
  assert.ok(Math.abs(extra.resume_expires - (now() + 86400)) <= 120,
    `resume_expires ${extra.resume_expires} is not now + 86400`);
  const p = tokenPayload(extra.resume_token);
  assert.equal(p.typ, 'resume');
  assert.equal(p.cid, extra.client_id);
  assert.equal(p.exp, extra.resume_expires);
  if (authid.startsWith('anonymous')) assert.equal(p.sub, undefined);
  else assert.equal(p.sub, authid);
}

// The test's minter writes the committed vectors byte for byte, so the
// tokens below are what Django would mint.
test('the test token minter reproduces the shared vectors', () => {
  const v = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests/fixtures/token_vectors.json'), 'utf8'));
  let n = 0;
  for (const vec of v.vectors) {
    if (!vec.payload_json || !vec.token || vec.bad) continue;
    const part = Buffer.from(vec.payload_json, 'utf8').toString('base64url');
    assert.equal(signTokenPart(v.secret, part), vec.token, vec.description);
    n++;
  }
  assert.ok(n >= 3);
});

describe('ticket authentication', () => {
  // edge0 accepts the previous secret (rotation), edge1 does not.
  const gw = new Gateway({
    name: 'auth',
    edges: 2,
    secret: SECRET,
    edgeArgs: (i) => (i === 0 ? ['--secret-previous', OLD_SECRET] : []),
  });

  before(async () => {
    await gw.start();
    await gw.register(PROBE);
    await gw.waitEventTypes([PROBE]);
    await gw.waitTicketAuth();
  }, { timeout: 60000 });

  after(async () => {
    await gw.stop().catch(() => {});
  });

  test('a valid ws token gets a WELCOME with authid, authrole user, authmethod ticket and authextra', { timeout: 20000 }, gw.wrap(async () => {
    const c = await open(gw);
    const welcome = await c.helloTicket(wsToken({ sub: '42' }), { authid: '42' });
    assert.deepEqual(c.challenge.slice(0, 2), [WAMP.CHALLENGE, 'ticket']);
    assertWelcome(welcome[2], { authid: '42', authrole: 'user' });
  }));

  test('a HELLO without authid is enough: the authid comes from the token', { timeout: 20000 }, gw.wrap(async () => {
    const { details } = await ticket(gw, wsToken({ sub: '4242' }));
    assertWelcome(details, { authid: '4242', authrole: 'user' });
  }));

  // The identity comes from the token: a HELLO claiming another authid is
  // not a way to be someone else.
  test("a HELLO authid that is not the token's sub is refused", { timeout: 20000 }, gw.wrap(async () => {
    await assertRefused(gw, wsToken({ sub: '42' }), { authid: '1' });
    await assertServing(gw);
  }));

  test('a token with group staff gets authrole staff, and superuser too', { timeout: 20000 }, gw.wrap(async () => {
    const a = await ticket(gw, wsToken({ sub: '7', grp: ['staff'] }));
    assertWelcome(a.details, { authid: '7', authrole: 'staff' });
    const b = await ticket(gw, wsToken({ sub: '8', grp: ['superuser'] }));
    assertWelcome(b.details, { authid: '8', authrole: 'staff' });
  }));

  test('two ws tokens of the same user get two different client ids', { timeout: 20000 }, gw.wrap(async () => {
    const a = await ticket(gw, wsToken({ sub: '42' }));
    const b = await ticket(gw, wsToken({ sub: '42' }));
    assert.notEqual(a.details.authextra.client_id, b.details.authextra.client_id);
  }));

  test('a ws token without sub (anonymous page) gets an anonymous session with a client id', { timeout: 20000 }, gw.wrap(async () => {
    const { details } = await ticket(gw, wsToken({ sub: null, name: null }));
    assert.equal(details.authrole, 'anonymous');
    assert.equal(typeof details.authextra?.client_id, 'string');
    assert.ok(details.authextra.client_id.length > 0);
  }));

  test('a token minted by telegraphy-ctl token is accepted, and ctl without a secret exits 2', { timeout: 30000 }, gw.wrap(async () => {
    const r = await gw.ctl(['token', '--user', '77', '--groups', 'staff,ops', '--name', 'carol']);
    assert.equal(r.code, 0, `ctl token: ${r.stderr}`);
    assert.match(r.stdout, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\n?$/, 'stdout is the token alone');
    const token = r.stdout.trim();
    const p = tokenPayload(token);
    assert.equal(p.typ, 'ws');
    assert.equal(p.sub, '77');
    assert.deepEqual([...p.grp].sort(), ['ops', 'staff']);
    const { details } = await ticket(gw, token, { authid: '77' });
    assertWelcome(details, { authid: '77', authrole: 'staff' });

    const none = await runCtl(gw.bin('ctl'), { ...gw.ctlEnv(), TELEGRAPHY_SECRET: '' }, ['token', '--user', '77']);
    assert.equal(none.code, 2, `ctl token without a secret: code=${none.code} stdout=${none.stdout}`);
    assert.equal(none.stdout, '');
  }));

  test('an expired token is refused', { timeout: 20000 }, gw.wrap(async () => {
    // Beyond the default 30 s skew.
    await assertRefused(gw, wsToken({ ttl: -120 }));
    await assertServing(gw);
  }));

  test('a ws token replayed on the same edge is refused', { timeout: 20000 }, gw.wrap(async () => {
    const token = wsToken({ sub: '42' });
    await ticket(gw, token, { edge: 0 });
    await assertRefused(gw, token, { edge: 0 });
    await assertServing(gw, 0);
  }));

  test('a ws token replayed on a second edge is refused', { timeout: 20000 }, gw.wrap(async () => {
    const token = wsToken({ sub: '42' });
    await ticket(gw, token, { edge: 0 });
    await assertRefused(gw, token, { edge: 1 });
    await assertServing(gw, 1);
  }));

  test('a token used on two edges at the same moment opens at most one session', { timeout: 20000 }, gw.wrap(async () => {
    const token = wsToken({ sub: '42' });
    const tries = await Promise.allSettled([ticket(gw, token, { edge: 0 }), ticket(gw, token, { edge: 1 })]);
    const ok = tries.filter((t) => t.status === 'fulfilled');
    assert.equal(ok.length, 1, `sessions opened: ${ok.length}: ${tries.map((t) => t.reason?.message || 'ok').join(' | ')}`);
    const failed = tries.find((t) => t.status === 'rejected').reason;
    assert.equal(failed.error, AUTH_FAILED);
  }));

  test('a token signed with another secret is refused', { timeout: 20000 }, gw.wrap(async () => {
    await assertRefused(gw, wsToken({}, 'some-other-secret-0123456789'));
    await assertServing(gw);
  }));

  test('a token whose MAC has one character changed is refused', { timeout: 20000 }, gw.wrap(async () => {
    const token = wsToken({});
    const last = token.at(-2) === 'A' ? 'B' : 'A'; // the last char may carry only padding bits
    await assertRefused(gw, token.slice(0, -2) + last + token.at(-1));
    await assertServing(gw);
  }));

  test('a token whose payload was changed after signing is refused', { timeout: 20000 }, gw.wrap(async () => {
    const [v, , mac] = wsToken({ sub: '42' }).split('.');
    const forged = Buffer.from(JSON.stringify(wsPayload({ sub: '1', grp: ['staff'] }))).toString('base64url');
    await assertRefused(gw, `${v}.${forged}.${mac}`);
    await assertServing(gw);
  }));

  test('a token signed with the previous secret is accepted by an edge started with --secret-previous', { timeout: 20000 }, gw.wrap(async () => {
    const { details } = await ticket(gw, wsToken({ sub: '42' }, OLD_SECRET), { edge: 0 });
    assertWelcome(details, { authid: '42', authrole: 'user' });
  }));

  test('a token signed with the previous secret is refused by an edge without it', { timeout: 20000 }, gw.wrap(async () => {
    await assertRefused(gw, wsToken({ sub: '42' }, OLD_SECRET), { edge: 1 });
    await assertServing(gw, 1);
  }));

  test('a token with an unknown typ is refused', { timeout: 20000 }, gw.wrap(async () => {
    await assertRefused(gw, wsToken({ typ: 'xx' }));
    await assertServing(gw);
  }));

  test('a failed AUTHENTICATE aborts even when the HELLO also offered anonymous', { timeout: 20000 }, gw.wrap(async () => {
    await assertRefused(gw, wsToken({}, 'wrong-secret-wrong-secret'), { authmethods: ['ticket', 'anonymous'] });
    await assertServing(gw);
  }));

  // Malformed tokens, signed with the right secret where the MAC covers the
  // bad part (so the parser behind the MAC is what refuses them).
  const b64 = (s) => Buffer.from(s, 'utf8').toString('base64url');
  const good = () => wsPayload({ sub: '42' });
  const MALFORMED = {
    'empty': () => '',
    'no dots': () => 'v1',
    'truncated in the payload': () => { const t = wsToken(); return t.slice(0, Math.floor(t.indexOf('.', 3) / 2) + 2); },
    'truncated in the MAC': () => wsToken().slice(0, -5),
    'missing MAC': () => wsToken().split('.').slice(0, 2).join('.') + '.',
    'wrong version': () => { const t = wsToken(); return 'v2' + t.slice(2); },
    'extra part': () => wsToken() + '.AAAA',
    'bad base64url (+ of the standard alphabet)': () => {
      const part = b64(JSON.stringify(good()));
      return signTokenPart(SECRET, part.slice(0, 4) + '+' + part.slice(5));
    },
    'bad base64url (/ of the standard alphabet)': () => {
      const part = b64(JSON.stringify(good()));
      return signTokenPart(SECRET, part.slice(0, 4) + '/' + part.slice(5));
    },
    'bad base64url (padding)': () => signTokenPart(SECRET, b64(JSON.stringify(good())) + '=='),
    'bad base64url (space)': () => signTokenPart(SECRET, 'eyJ0eXAiOiJ3cyJ9 '),
    'bad JSON': () => signTokenPart(SECRET, b64('{"typ":"ws","sub":"42",')),
    'JSON not an object': () => signTokenPart(SECRET, b64('["ws","42"]')),
    'bad UTF-8 in JSON': () => signTokenPart(SECRET,
      Buffer.concat([Buffer.from('{"typ":"ws","sub":"4'), Buffer.from([0xff, 0xfe]), Buffer.from(`","grp":[],"exp":${now() + 60},"jti":"${newJti()}"}`)]).toString('base64url')),
    'wrong type: exp as a string': () => mintToken(SECRET, { ...good(), exp: String(now() + 60) }),
    'wrong type: sub as a number': () => mintToken(SECRET, { ...good(), sub: 42 }),
    'wrong type: grp as a string': () => mintToken(SECRET, { ...good(), grp: 'staff' }),
    'wrong type: a group as a number': () => mintToken(SECRET, { ...good(), grp: [1] }),
    'wrong type: jti as a number': () => mintToken(SECRET, { ...good(), jti: 12345 }),
    'wrong type: typ as a list': () => mintToken(SECRET, { ...good(), typ: ['ws'] }),
    'missing exp': () => { const p = good(); delete p.exp; return mintToken(SECRET, p); },
    'missing jti': () => { const p = good(); delete p.jti; return mintToken(SECRET, p); },
    'missing typ': () => { const p = good(); delete p.typ; return mintToken(SECRET, p); },
    'a 100 KB token': () => mintToken(SECRET, { ...good(), name: 'x'.repeat(100 * 1024) }),
    'a 100 KB string of garbage': () => 'v1.' + 'A'.repeat(100 * 1024) + '.' + 'B'.repeat(43),
  };
  for (const [what, make] of Object.entries(MALFORMED)) {
    test(`a malformed token is refused and the edge keeps serving: ${what}`, { timeout: 20000 }, gw.wrap(async () => {
      await assertRefused(gw, make());
      await assertServing(gw);
    }));
  }

  test('AUTHENTICATE with a signature that is not a string is refused', { timeout: 20000 }, gw.wrap(async () => {
    const c = await open(gw);
    c.send([WAMP.HELLO, 'telegraphy', { roles: { subscriber: {} }, authmethods: ['ticket'] }]);
    await c.expectType(WAMP.CHALLENGE, 5000, 'CHALLENGE');
    c.send([WAMP.AUTHENTICATE, { token: wsToken() }, {}]);
    const { msg } = await c.expect((m) => Array.isArray(m) && (m[0] === WAMP.ABORT || m[0] === WAMP.WELCOME), 5000, 'ABORT')
      .catch(() => ({ msg: null }));
    // An ABORT or a plain close (protocol violation) are both fine; a WELCOME is not.
    if (msg) assert.equal(msg[0], WAMP.ABORT);
    await waitFor('the edge to close', () => c.closeInfo, { timeoutMs: 5000 });
    await assertServing(gw);
  }));

  test('a resume token opens the same identity and client id, and can be used again', { timeout: 20000 }, gw.wrap(async () => {
    const first = await ticket(gw, wsToken({ sub: '42', grp: ['ops'] }));
    const { client_id: cid, resume_token: resume } = first.details.authextra;
    const again = await ticket(gw, resume, { authid: '42' });
    assertWelcome(again.details, { authid: '42', authrole: 'user' });
    assert.equal(again.details.authextra.client_id, cid);
    // Reusable until exp, on any edge, and a fresh resume token each time.
    const third = await ticket(gw, resume, { edge: 1 });
    assert.equal(third.details.authid, '42');
    assert.equal(third.details.authextra.client_id, cid);
    const fourth = await ticket(gw, again.details.authextra.resume_token);
    assert.equal(fourth.details.authextra.client_id, cid);
    // Same groups: the ops group survives the resume.
    assert.deepEqual(tokenPayload(fourth.details.authextra.resume_token).grp, ['ops']);
  }));

  test('an expired resume token is refused', { timeout: 20000 }, gw.wrap(async () => {
    await assertRefused(gw, resumeToken({ ttl: -120 }));
    await assertServing(gw);
  }));

  test('a resume token signed with another secret is refused', { timeout: 20000 }, gw.wrap(async () => {
    await assertRefused(gw, resumeToken({}, 'not-the-secret-not-the-secret'));
  }));

  test('a resume token still works after the edge is killed and restarted', { timeout: 60000 }, gw.wrap(async () => {
    const first = await ticket(gw, wsToken({ sub: '42' }), { edge: 0 });
    const { client_id: cid, resume_token: resume } = first.details.authextra;
    first.c.terminate();
    await gw.killEdge(0);
    gw.restartEdge(0);
    await gw.waitEdgeHealthy(0);
    await gw.waitEventTypes([PROBE]);
    const again = await ticket(gw, resume, { edge: 0, authid: '42' });
    assertWelcome(again.details, { authid: '42', authrole: 'user' });
    assert.equal(again.details.authextra.client_id, cid);
    await assertServing(gw, 0);
  }));

  test('a ws token spent before an edge restart stays spent after it', { timeout: 60000 }, gw.wrap(async () => {
    const token = wsToken({ sub: '42' });
    const first = await ticket(gw, token, { edge: 1 });
    first.c.terminate();
    await gw.killEdge(1);
    gw.restartEdge(1);
    await gw.waitEdgeHealthy(1);
    await gw.waitEventTypes([PROBE]);
    await assertRefused(gw, token, { edge: 1 });
    await assertRefused(gw, token, { edge: 0 });
  }));

  // The router keeps spent jtis in memory only: after its restart the
  // edges re-send theirs, and it refuses spends until they had the time to
  // (docs/security.md, "Router restart and spent jtis").
  test('a ws token spent before a router restart stays spent after it, on both edges', { timeout: 60000 }, gw.wrap(async () => {
    const a = wsToken({ sub: '42' });
    const b = wsToken({ sub: '43' });
    (await ticket(gw, a, { edge: 0 })).c.terminate();
    (await ticket(gw, b, { edge: 1 })).c.terminate();
    await gw.killRouter();
    await gw.restartRouter();
    for (let i = 0; i < 2; i++) await gw.waitEdgeHealthy(i);
    await gw.waitTicketAuth();
    await assertRefused(gw, a, { edge: 0 });
    await assertRefused(gw, a, { edge: 1 });
    await assertRefused(gw, b, { edge: 0 });
    await assertRefused(gw, b, { edge: 1 });
    await gw.waitEventTypes([PROBE]);
    await assertServing(gw, 0);
  }));

  gw.stopTest(test);
});

// ---------------------------------------------------------------- audiences

describe('audiences', () => {
  const gw = new Gateway({ name: 'audience', edges: 1, secret: SECRET });
  // A reusable key to every type: a resume token of a staff member of ops.
  const ALL_SEEING = resumeToken({ sub: '1', grp: ['staff', 'ops'], cid: 'it-waiter' });

  // A session of `role` (anonymous: a plain HELLO).
  async function session(role) {
    const r = ROLES[role];
    if (r.sub === null) return (await anonymous(gw)).c;
    return (await ticket(gw, wsToken({ sub: r.sub, grp: r.grp }))).c;
  }

  before(async () => {
    await gw.start();
    for (const [aud, name] of Object.entries(T)) await gw.register(name, ['--audience', aud]);
    await gw.register(SENTINEL, ['--audience', 'public']);
    await gw.waitTicketAuth();
    const names = [...Object.values(T), SENTINEL];
    await waitFor('the edge to list every authz type to a staff+ops session', async () => {
      const c = await RawWamp.open(gw.edgeUrl(0));
      try {
        await c.helloTicket(ALL_SEEING);
        const list = await c.call('telegraphy.events.list');
        const have = new Set((list.args?.[0] || []).map((t) => t.name));
        return names.every((n) => have.has(n));
      } finally {
        c.terminate();
      }
    }, { timeoutMs: 20000, intervalMs: 100 });
  }, { timeout: 60000 });

  after(async () => {
    await gw.stop().catch(() => {});
  });

  for (const role of Object.keys(ROLES)) {
    for (const aud of AUDIENCES) {
      const allowed = ROLES[role].sees.includes(aud);
      test(`exact subscribe: ${role} to a ${aud} event is ${allowed ? 'SUBSCRIBED and receives it' : 'refused with not_authorized'}`,
        { timeout: 20000 }, gw.wrap(async () => {
          const c = await session(role);
          if (!allowed) {
            await assert.rejects(c.subscribe(T[aud]), (e) => {
              assert.equal(e.error, NOT_AUTHORIZED, e.message);
              return true;
            });
            return;
          }
          const sub = await c.subscribe(T[aud]);
          const mark = newJti();
          await gw.publish(T[aud], { mark });
          const { msg } = await c.nextEvent(5000, (m) => m[1] === sub && m[5]?.mark === mark);
          assert.deepEqual(msg[5], { mark });
        }));
    }
  }

  for (const role of Object.keys(ROLES)) {
    test(`prefix subscription: ${role} receives exactly the events of ${ROLES[role].sees.join(', ')}`,
      { timeout: 30000 }, gw.wrap(async () => {
        const c = await session(role);
        const sub = await c.subscribe('authz.', { match: 'prefix' });
        const mark = newJti();
        for (const aud of AUDIENCES) await gw.publish(T[aud], { mark });
        await gw.publish(SENTINEL, { mark });
        // Same edge, same order: once the sentinel is here, the others were
        // delivered or not at all; a short grace covers nothing in flight.
        await c.nextEvent(5000, (m) => m[1] === sub && m[3]?.topic === SENTINEL && m[5]?.mark === mark);
        await delay(200);
        const got = c.inbox
          .map((x) => x.msg)
          .filter((m) => Array.isArray(m) && m[0] === WAMP.EVENT && m[1] === sub && m[5]?.mark === mark)
          .map((m) => m[3]?.topic)
          .sort();
        const expected = ROLES[role].sees.map((a) => T[a]).sort();
        assert.deepEqual(got, expected);
      }));
  }

  for (const role of Object.keys(ROLES)) {
    test(`telegraphy.events.list for ${role} lists exactly ${ROLES[role].sees.join(', ')} (and the public sentinel)`,
      { timeout: 20000 }, gw.wrap(async () => {
        const c = await session(role);
        const list = await c.call('telegraphy.events.list');
        const names = (list.args?.[0] || []).map((t) => t.name).filter((n) => n.startsWith('authz.')).sort();
        const expected = [...ROLES[role].sees.map((a) => T[a]), SENTINEL].sort();
        assert.deepEqual(names, expected);
      }));
  }

  // to_users: every role subscribes (prefix, so the same subscription sees
  // every type it may); only the listed authid receives, and the audience
  // still applies to it.
  async function toUsersCase(topic, users, receivers) {
    const sessions = {};
    for (const role of Object.keys(ROLES)) {
      const c = await session(role);
      sessions[role] = { c, sub: await c.subscribe('authz.', { match: 'prefix' }) };
    }
    // A second user session that is not listed.
    const other = (await ticket(gw, wsToken({ sub: '43' }))).c;
    sessions.other = { c: other, sub: await other.subscribe('authz.', { match: 'prefix' }) };
    const mark = newJti();
    await gw.publish(topic, { mark }, ['--to-users', users]);
    await gw.publish(SENTINEL, { mark });
    for (const [who, { c, sub }] of Object.entries(sessions)) {
      await c.nextEvent(5000, (m) => m[1] === sub && m[3]?.topic === SENTINEL && m[5]?.mark === mark);
    }
    await delay(200);
    for (const [who, { c, sub }] of Object.entries(sessions)) {
      const got = c.inbox.some(({ msg: m }) => Array.isArray(m) && m[0] === WAMP.EVENT && m[1] === sub &&
        m[3]?.topic === topic && m[5]?.mark === mark);
      assert.equal(got, receivers.includes(who), `${who} ${got ? 'received' : 'did not receive'} the to_users event`);
    }
  }

  test('to_users 42 on a public event reaches only the session with authid 42', { timeout: 40000 }, gw.wrap(async () => {
    await toUsersCase(T.public, '42', ['user']);
  }));

  test('to_users 42,7 reaches exactly the sessions with authid 42 and 7', { timeout: 40000 }, gw.wrap(async () => {
    await toUsersCase(T.authenticated, '42,7', ['user', 'staff']);
  }));

  test('to_users does not override the audience: a staff event to user 42 reaches nobody', { timeout: 40000 }, gw.wrap(async () => {
    await toUsersCase(T.staff, '42', []);
  }));

  gw.stopTest(test);
});
