/** Bearer-token authentication for the routes that need a user. */
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../domain/errors.js';
import type { UserRecord } from '../domain/users/ports.js';
import type { UserService } from '../domain/users/user-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    user: UserRecord | null;
  }
}

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  if (!match) throw new ApiError('invalid_token', 'The Authorization header must be "Bearer <access_token>".');
  return match[1]!;
}

/** Resolves the caller, or throws 401. */
export async function requireUser(request: FastifyRequest, users: UserService): Promise<UserRecord> {
  if (request.user) return request.user;
  const token = bearerToken(request);
  if (token === null) throw new ApiError('authentication_required');
  const user = await users.authenticate(token);
  if (!user) throw new ApiError('invalid_token');
  request.user = user;
  return user;
}
