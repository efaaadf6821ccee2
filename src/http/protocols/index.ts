/**
 * /files/: tus 1.0 and the IETF resumable-upload draft on one endpoint, chosen per
 * request by `Upload-Draft-Interop-Version`. Each answers failures in its own terms.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ResumableUploads } from '../../domain/protocols/resumable-uploads.js';
import type { UserService } from '../../domain/users/user-service.js';
import { requireUser } from '../auth.js';
import { IetfProtocol } from './ietf/routes.js';
import { interopVersion, type InteropVersion } from './ietf/versions.js';
import { TusProtocol } from './tus/routes.js';

export interface ResumableRouteDeps {
  uploads: ResumableUploads;
  users: UserService;
}

type IdRequest = FastifyRequest<{ Params: { id: string } }>;

export async function resumableUploadRoutes(app: FastifyInstance, deps: ResumableRouteDeps): Promise<void> {
  const tus = new TusProtocol(deps.uploads);
  const ietf = new IetfProtocol(deps.uploads);
  // Bodies here are upload bytes of any type: every one reaches the handler as a stream.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  /** Runs a handler for whichever protocol the request speaks, answering its failures that protocol's way. */
  function handle(
    onTus: (request: IdRequest, reply: FastifyReply, userId: number) => Promise<FastifyReply>,
    onIetf: (request: IdRequest, reply: FastifyReply, userId: number, version: InteropVersion) => Promise<FastifyReply>,
  ) {
    return async (request: IdRequest, reply: FastifyReply) => {
      const version = interopVersion(request);
      if (version === null && !tus.checkVersion(request, reply)) return reply;
      try {
        const user = await requireUser(request, deps.users);
        return version === null ? await onTus(request, reply, user.id) : await onIetf(request, reply, user.id, version);
      } catch (error) {
        return version === null ? tus.fail(request, reply, error) : ietf.fail(request, reply, error, version);
      }
    };
  }

  const hidden = { schema: { hide: true } };
  const create = handle(
    (request, reply, userId) => tus.create(request, reply, userId),
    (request, reply, userId, version) => ietf.create(request, reply, userId, version),
  );
  for (const path of ['/files', '/files/']) {
    app.post(path, hidden, create);
    app.options(path, hidden, async (request, reply) => {
      reply.header('upload-limit', ietf.limits);
      return tus.options(reply);
    });
  }
  app.head('/files/:id', hidden, handle(
    (request, reply, userId) => tus.head(request, reply, userId, request.params.id),
    (request, reply, userId, version) => ietf.head(reply, userId, request.params.id, version),
  ));
  app.patch('/files/:id', hidden, handle(
    (request, reply, userId) => tus.patch(request, reply, userId, request.params.id),
    (request, reply, userId, version) => ietf.patch(request, reply, userId, request.params.id, version),
  ));
  app.delete('/files/:id', hidden, handle(
    (request, reply, userId) => tus.terminate(reply, userId, request.params.id),
    (request, reply, userId) => ietf.cancel(reply, userId, request.params.id),
  ));
  app.options('/files/:id', hidden, async (_request, reply) => tus.options(reply.header('upload-limit', ietf.limits)));
}
