/** SPEC 2: registration, OAuth 2 password grant, the caller's account, public profiles. */
import { Type } from '@sinclair/typebox';
import type {} from '@fastify/swagger';
import type { FastifyContextConfig, FastifyInstance } from 'fastify';
import type {} from '@fastify/rate-limit';
import type { AttachmentLimits } from '../../domain/attachments/attachment-service.js';
import { ApiError } from '../../domain/errors.js';
import type { UserRecord } from '../../domain/users/ports.js';
import type { UserService } from '../../domain/users/user-service.js';
import type { AccountErasure } from '../../domain/users/account-erasure.js';
import { bearerToken, requireUser } from '../auth.js';
import { envelope } from '../envelope.js';
import { decodeParams, TextParam } from '../params.js';
import { parseId, readParams } from '../request-params.js';
import { AccountUser, Envelope, errorResponses, PublicUser } from '../schemas.js';

export interface UserRouteDeps {
  users: UserService;
  erasure: AccountErasure;
  limits: AttachmentLimits;
  /** Requests per minute per address; 0 means no limit. */
  rateLimits: { registration: number; token: number };
}

/** Route config for @fastify/rate-limit: `max` per minute per address, or none. */
function perMinute(max: number): FastifyContextConfig {
  return { rateLimit: max > 0 ? { max, timeWindow: 60_000 } : false };
}

const RegisterParams = Type.Object({
  user: Type.Object({
    username: TextParam({ maxLength: 64, description: '3 to 32 letters, digits or underscores' }),
    email: TextParam({ maxLength: 254, description: 'an email address' }),
    password: TextParam({ maxLength: 1024, description: 'a password of at least 8 characters' }),
    invite_code: Type.Optional(TextParam({ maxLength: 64, description: 'an invite code (required when registration is by invitation)' })),
  }),
});

const PasswordParams = Type.Object({
  password: Type.Object({
    current: TextParam({ maxLength: 1024, description: 'the password the account has now' }),
    new: TextParam({ maxLength: 1024, description: 'a password of at least 8 characters' }),
  }),
});

const EraseParams = Type.Object({
  password: Type.Optional(TextParam({ maxLength: 1024, description: "the account's password (accounts of the identity provider send a fresh JWT instead)" })),
});

const TokenParams = Type.Object({
  grant_type: Type.String(),
  username: Type.String(),
  password: Type.String(),
});

/** RFC 6749 5.2's form of a body that cannot be read. */
/** Route config: errors raised before or around the handler answer in RFC 6749's form too. */
const OAUTH_ERRORS = { errorFormat: 'oauth' };
const UNPARSEABLE = { error: 'invalid_request', error_description: 'The request body could not be parsed.' };

/** RFC 6749 / 7009 error answers: top-level JSON, no envelope. */
const OAuthError = Type.Object({ error: Type.String(), error_description: Type.Optional(Type.String()) });

export function publicUser(user: UserRecord) {
  return { id: user.id, username: user.username, messaging_enabled: user.messagingEnabled };
}

export async function userRoutes(app: FastifyInstance, deps: UserRouteDeps): Promise<void> {
  const { users, limits } = deps;
  const accountUser = (user: UserRecord) => ({
    ...publicUser(user),
    email: user.email,
    created_at: new Date(user.createdAt).toISOString(),
    limits: {
      max_attachment_size: limits.maxSize,
      max_open_attachments: limits.maxOpenPerUser,
      max_reserved_bytes: limits.maxReservedBytes,
      attachment_idle_timeout: Math.round(limits.idleTimeoutMs / 1000),
      trickle: true,
      parallel: true,
    },
  });
  const AccountEnvelope = Envelope(Type.Object({ user: AccountUser }));

  app.post('/users', {
    config: perMinute(deps.rateLimits.registration),
    schema: { summary: 'Register a user', tags: ['users'], body: RegisterParams, response: { 201: AccountEnvelope, ...errorResponses } },
    handler: async (request, reply) => {
      const { user: input } = decodeParams(RegisterParams, await readParams(request));
      const user = await users.register({ ...input, inviteCode: input.invite_code });
      return reply.code(201).header('location', `/users/${user.id}`).send(envelope({ user: accountUser(user) }));
    },
  });

  // RFC 6749 answers: top-level JSON, no envelope.
  app.post('/oauth/token', {
    config: { ...perMinute(deps.rateLimits.token), ...OAUTH_ERRORS },
    schema: {
      summary: 'OAuth 2 resource owner password grant',
      tags: ['users'],
      body: TokenParams,
      response: {
        200: Type.Object({
          access_token: Type.String(),
          token_type: Type.Literal('Bearer'),
          expires_in: Type.Optional(Type.Integer({ description: 'seconds until the token expires; absent when it never does' })),
        }),
        '4xx': OAuthError,
      },
    },
    handler: async (request, reply) => {
      const params = await readParams(request).catch(() => null);
      if (!params) return reply.code(400).send(UNPARSEABLE);
      const { grant_type: grantType, username, password } = params;
      if (typeof grantType !== 'string') return reply.code(400).send({ error: 'invalid_request', error_description: 'grant_type is required.' });
      if (grantType !== 'password') return reply.code(400).send({ error: 'unsupported_grant_type' });
      if (typeof username !== 'string' || typeof password !== 'string') {
        return reply.code(400).send({ error: 'invalid_request', error_description: 'username and password are required.' });
      }
      const issued = username.length <= 64 && password.length <= 1024 ? await users.issueToken(username, password) : null;
      if (!issued) return reply.code(400).send({ error: 'invalid_grant', error_description: 'The username or password is wrong.' });
      const expiry = issued.expiresIn === null ? {} : { expires_in: issued.expiresIn };
      return reply.header('cache-control', 'no-store').send({ access_token: issued.token, token_type: 'Bearer', ...expiry });
    },
  });

  // RFC 7009. The token itself is the credential: whoever holds it may end it. Unknown
  // tokens answer 200 too, so the answer tells nothing about which tokens exist.
  app.post('/oauth/revoke', {
    config: { ...perMinute(deps.rateLimits.token), ...OAUTH_ERRORS },
    schema: {
      summary: 'Revoke an access token (RFC 7009)',
      tags: ['users'],
      body: Type.Object({ token: Type.String(), token_type_hint: Type.Optional(Type.String()) }),
      response: {
        200: Type.Object({}),
        '4xx': OAuthError,
      },
    },
    handler: async (request, reply) => {
      const params = await readParams(request).catch(() => null);
      if (!params) return reply.code(400).send(UNPARSEABLE);
      const { token } = params;
      if (typeof token !== 'string' || token === '') return reply.code(400).send({ error: 'invalid_request', error_description: 'token is required.' });
      if (token.length <= 4096) await users.revoke(token);
      return reply.header('cache-control', 'no-store').send({});
    },
  });

  app.delete('/account/tokens', {
    schema: { summary: 'Sign out everywhere: revoke every access token of the caller', tags: ['users'], response: { 204: Type.Null(), ...errorResponses } },
    handler: async (request, reply) => {
      const user = await requireUser(request, users);
      await users.signOutEverywhere(user.id);
      return reply.code(204).send();
    },
  });

  // Checks a password: rate-limited like the token endpoint.
  app.put('/account/password', {
    config: perMinute(deps.rateLimits.token),
    schema: {
      summary: "Change the caller's password; every other token of the account is revoked",
      tags: ['users'],
      body: PasswordParams,
      response: { 200: AccountEnvelope, ...errorResponses },
    },
    handler: async (request) => {
      const user = await requireUser(request, users);
      const { password } = decodeParams(PasswordParams, await readParams(request));
      return envelope({ user: accountUser(await users.changePassword(user, password, bearerToken(request))) });
    },
  });

  // SPEC 10: erasure. The answer comes once the erasure has begun: the account signs in no more,
  // and the durable job deletes the rest (on any node, also after a crash).
  app.delete('/account', {
    config: perMinute(deps.rateLimits.token),
    schema: {
      summary: "Erase the caller's account and everything theirs (password, or a fresh JWT)",
      tags: ['users'],
      body: EraseParams,
      response: { 204: Type.Null(), ...errorResponses },
    },
    handler: async (request, reply) => {
      const user = await requireUser(request, users);
      const { password } = decodeParams(EraseParams, await readParams(request));
      await users.confirmOwner(user, password, bearerToken(request));
      await deps.erasure.begin(user.id);
      return reply.code(204).send();
    },
  });

  app.get('/account', {
    schema: { summary: "The caller's account and limits", tags: ['users'], response: { 200: AccountEnvelope, ...errorResponses } },
    handler: async (request) => envelope({ user: accountUser(await requireUser(request, users)) }),
  });

  // Not in the original API: lets clients address a message to a username.
  const LookupParams = Type.Object({ username: TextParam({ maxLength: 64, description: 'a username, any case' }) });
  app.get('/users', {
    schema: {
      summary: 'Find a user by username',
      tags: ['users'],
      querystring: LookupParams,
      response: { 200: Envelope(Type.Object({ user: PublicUser })), ...errorResponses },
    },
    handler: async (request) => {
      const { username } = decodeParams(LookupParams, await readParams(request));
      const user = await users.findByUsername(username);
      if (!user) throw new ApiError('not_found', 'No such user.');
      return envelope({ user: publicUser(user) });
    },
  });

  app.get<{ Params: { id: string } }>('/users/:id', {
    schema: {
      summary: 'Public profile of a user',
      tags: ['users'],
      params: Type.Object({ id: Type.String() }),
      response: { 200: Envelope(Type.Object({ user: PublicUser })), ...errorResponses },
    },
    handler: async (request) => {
      const user = await users.findById(parseId(request.params.id, 'user'));
      if (!user) throw new ApiError('not_found', 'No such user.');
      return envelope({ user: publicUser(user) });
    },
  });
}
