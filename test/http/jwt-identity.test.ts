/**
 * Bring your own identity (SPEC 9): JWTs from a JWKS served by the test, or signed with a
 * shared secret. Every failed check is 401 invalid_token; a subject becomes one user.
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT, type JWTPayload } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { newUser, request } from '../helpers/client.js';
import { JwksServer, sign, signingKey, type SigningKey } from '../helpers/identity-provider.js';
import { startServer, type TestServer } from '../helpers/server.js';

const ISSUER = 'https://id.example.test/';
const AUDIENCE = 'trickle-api';
const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: JWTPayload = {}): JWTPayload => ({ iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: now(), exp: now() + 300, ...extra });
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function expectRejected(base: string, token: string, reason: RegExp): Promise<void> {
  const reply = await request(base, 'GET', '/account', { token });
  assert.equal(reply.status, 401, `${reason}: ${reply.text}`);
  assert.equal(reply.json.body.error.name, 'invalid_token');
  assert.match(reply.json.body.error.description, reason);
}

for (const kind of databaseKinds()) {
  describe(`JWT sign-in with a JWKS on ${kind.name}`, { skip: kind.skip }, () => {
    const jwks = new JwksServer();
    let server: TestServer;
    let rsa: SigningKey;
    before(async () => {
      await jwks.start();
      rsa = await signingKey('RS256', 'rsa-1');
      jwks.keys = [rsa, await signingKey('ES256', 'ec-1'), await signingKey('EdDSA', 'ed-1')];
      server = await startServer(kind, { authJwksUrl: jwks.url, authIssuer: ISSUER, authAudience: AUDIENCE, authJwksCooldownSeconds: 0 });
    });
    after(async () => {
      await server.close();
      await jwks.stop();
    });

    test('a valid token creates its user once, and maps to it again after', async () => {
      const first = await request(server.url, 'GET', '/account', { token: await sign(rsa, claims({ sub: 'sub-a', preferred_username: 'ada', email: 'ada@example.com' })) });
      assert.equal(first.status, 200, first.text);
      assert.equal(first.json.body.user.username, 'ada');
      assert.equal(first.json.body.user.email, 'ada@example.com');
      // Another token for the same subject (other key, other name claim) is the same user.
      const again = await request(server.url, 'GET', '/account', { token: await sign(jwks.keys[1]!, claims({ sub: 'sub-a', preferred_username: 'renamed' })) });
      assert.equal(again.status, 200);
      assert.equal(again.json.body.user.id, first.json.body.user.id);
      assert.equal(again.json.body.user.username, 'ada');
      const ed = await request(server.url, 'GET', '/account', { token: await sign(jwks.keys[2]!, claims({ sub: 'sub-a' })) });
      assert.equal(ed.json.body.user.id, first.json.body.user.id);
      // Concurrent first uses of a new subject on one server make one user.
      const token = await sign(rsa, claims({ sub: 'sub-race', preferred_username: 'racer' }));
      const replies = await Promise.all(Array.from({ length: 5 }, () => request(server.url, 'GET', '/account', { token })));
      assert.deepEqual(new Set(replies.map((r) => r.status)), new Set([200]));
      assert.equal(new Set(replies.map((r) => r.json.body.user.id)).size, 1);
      // The user can act: it writes like any other.
      const attachment = await request(server.url, 'POST', '/attachments', { token, json: { attachment: { size: 3 } } });
      assert.equal(attachment.status, 201);
    });

    test('usernames follow the rules and are made unique; the claim is optional', async () => {
      const owner = await request(server.url, 'GET', '/account', { token: await sign(rsa, claims({ sub: 'sub-b', preferred_username: 'ada' })) });
      assert.equal(owner.json.body.user.username, 'ada_2');
      const accented = await request(server.url, 'GET', '/account', { token: await sign(rsa, claims({ sub: 'sub-c', preferred_username: 'José Müller!' })) });
      assert.equal(accented.json.body.user.username, 'Jose_Muller');
      const noClaim = await request(server.url, 'GET', '/account', { token: await sign(rsa, claims({ sub: 'auth0|65f0c1' })) });
      assert.equal(noClaim.json.body.user.username, 'auth0_65f0c1');
      const tiny = await request(server.url, 'GET', '/account', { token: await sign(rsa, claims({ sub: 'sub-d', preferred_username: '!' })) });
      assert.equal(tiny.json.body.user.username, 'user');
      const long = await request(server.url, 'GET', '/account', { token: await sign(rsa, claims({ sub: 'sub-e', preferred_username: 'x'.repeat(40) })) });
      assert.equal(long.json.body.user.username, 'x'.repeat(32));
      const longAgain = await request(server.url, 'GET', '/account', { token: await sign(rsa, claims({ sub: 'sub-f', preferred_username: 'X'.repeat(40) })) });
      assert.equal(longAgain.json.body.user.username, `${'X'.repeat(30)}_2`);
      // A JWT user has no password: the password grant never signs it in.
      const grant = await request(server.url, 'POST', '/oauth/token', { form: { grant_type: 'password', username: 'ada', password: '' } });
      assert.equal(grant.status, 400);
    });

    test('every failed check is 401 invalid_token', async () => {
      const stranger = await signingKey('RS256', 'not-published');
      const rsaPem = createPublicKey({ key: rsa.publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      const hmacWith = (secret: Buffer | string, header: object, payload: object) => {
        const input = `${b64(header)}.${b64(payload)}`;
        return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      };
      const valid = await sign(rsa, claims({ sub: 'sub-tamper' }));
      const [header, , signature] = valid.split('.');
      const cases: Array<[string, string, RegExp]> = [
        ['expired', await sign(rsa, claims({ exp: now() - 120, iat: now() - 600 })), /expired/],
        ['not yet valid', await sign(rsa, claims({ nbf: now() + 120 })), /not valid yet/],
        ['wrong audience', await sign(rsa, claims({ aud: 'another-api' })), /audience/],
        ['wrong issuer', await sign(rsa, claims({ iss: 'https://evil.example.test/' })), /issuer/],
        ['tampered payload', `${header}.${b64(claims({ sub: 'someone-else' }))}.${signature}`, /signature/],
        ['tampered signature', `${valid.slice(0, -4)}${valid.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`, /signature/],
        ['unknown key', await sign(stranger, claims()), /key/],
        ['unknown key under a known kid', await sign({ ...stranger, kid: 'rsa-1' }, claims()), /signature/],
        ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`, /algorithm/],
        ['HS256 with the RSA public key (PEM) as secret', hmacWith(rsaPem, { alg: 'HS256', kid: 'rsa-1' }, claims()), /algorithm/],
        ['HS256 with the RSA modulus as secret', hmacWith(Buffer.from(rsa.publicJwk.n!, 'base64url'), { alg: 'HS256', kid: 'rsa-1' }, claims()), /algorithm/],
        ['missing sub', await sign(rsa, claims({ sub: undefined })), /"sub"/],
        ['missing exp', await sign(rsa, claims({ exp: undefined })), /"exp"/],
        ['not a JWT', 'abc.def.ghi', /not a valid JWT/],
      ];
      for (const [name, token, reason] of cases) {
        await test(name, () => expectRejected(server.url, token, reason));
      }
      // A few seconds of clock difference are forgiven.
      assert.equal((await request(server.url, 'GET', '/account', { token: await sign(rsa, claims({ exp: now() - 5 })) })).status, 200);
      assert.equal((await request(server.url, 'GET', '/account', { token: await sign(rsa, claims({ nbf: now() + 5 })) })).status, 200);
    });

    test('a new key id makes the server fetch the key set again (rotation)', async () => {
      const before = jwks.fetches;
      const rotated = await signingKey('ES256', 'ec-2');
      jwks.keys = [rotated, rsa];
      const reply = await request(server.url, 'GET', '/account', { token: await sign(rotated, claims({ sub: 'sub-rotated' })) });
      assert.equal(reply.status, 200, reply.text);
      assert.ok(jwks.fetches > before, 'fetched again');
      // Known keys come from the cache: no fetch per request.
      const cached = jwks.fetches;
      for (let i = 0; i < 3; i += 1) assert.equal((await request(server.url, 'GET', '/account', { token: await sign(rsa, claims()) })).status, 200);
      assert.equal(jwks.fetches, cached);
    });

    test("Trickle's own tokens keep working beside JWTs", async () => {
      const user = await newUser(server.url, 'own');
      const reply = await request(server.url, 'GET', '/account', { token: user.token });
      assert.equal(reply.status, 200);
      assert.equal(reply.json.body.user.id, user.id);
      assert.equal((await request(server.url, 'GET', '/account', { token: 'x'.repeat(43) })).status, 401);
    });
  });
}

describe('JWT sign-in with a shared secret (HS256)', () => {
  const secret = 'a shared secret of at least thirty-two bytes';
  let server: TestServer;
  before(async () => {
    server = await startServer(databaseKinds()[0]!, { authJwtSecret: secret, authIssuer: ISSUER, authAudience: AUDIENCE, authUsernameClaim: 'nickname' });
  });
  after(() => server.close());

  const hs256 = (payload: JWTPayload, key = secret) => new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(key));

  test('signs in with the configured username claim; other secrets and algorithms are refused', async () => {
    const ok = await request(server.url, 'GET', '/account', { token: await hs256(claims({ sub: 'hs-1', nickname: 'grace' })) });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.body.user.username, 'grace');
    await expectRejected(server.url, await hs256(claims(), 'another secret that is also long enough'), /signature/);
    await expectRejected(server.url, await sign(await signingKey('RS256', 'k'), claims()), /algorithm/);
    const hs512 = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS512' }).sign(new TextEncoder().encode(secret));
    await expectRejected(server.url, hs512, /algorithm/);
    await expectRejected(server.url, await hs256(claims({ exp: now() - 120 })), /expired/);
  });

  test('with password registration switched off, JWTs still make users', async () => {
    const closed = await startServer(databaseKinds()[0]!, { registrationEnabled: false, authJwtSecret: secret, authIssuer: ISSUER, authAudience: AUDIENCE });
    try {
      const register = await request(closed.url, 'POST', '/users', { json: { user: { username: 'walkin', email: 'w@example.com', password: 'password1' } } });
      assert.equal(register.status, 403);
      assert.equal(register.json.body.error.name, 'registration_disabled');
      const reply = await request(closed.url, 'GET', '/account', { token: await hs256(claims({ sub: 'hs-closed', preferred_username: 'walkin' })) });
      assert.equal(reply.status, 200, reply.text);
      assert.equal(reply.json.body.user.username, 'walkin');
    } finally {
      await closed.close();
    }
  });

  test('a server refuses to start with a short secret or without issuer and audience', async () => {
    const kind = databaseKinds()[0]!;
    await assert.rejects(startServer(kind, { authJwtSecret: 'short', authIssuer: ISSUER, authAudience: AUDIENCE }), /at least 32 bytes/);
    await assert.rejects(startServer(kind, { authJwtSecret: secret }), /AUTH_ISSUER and AUTH_AUDIENCE/);
  });
});
