/** Response shapes, for the OpenAPI document and for serialising replies. */
import { Type, type TSchema } from '@sinclair/typebox';
import { ERROR_TABLE } from '../domain/errors.js';

export function Envelope<T extends TSchema>(body: T) {
  return Type.Object({
    version: Type.Literal(200),
    timestamp: Type.Integer({ description: 'unix seconds' }),
    window: Type.Literal(60),
    body,
  });
}

export const ErrorEnvelope = Envelope(
  Type.Object({
    error: Type.Object({
      code: Type.Integer(),
      name: Type.Union(Object.keys(ERROR_TABLE).map((name) => Type.Literal(name))),
      description: Type.String(),
      details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    }),
  }),
  );

/** Error replies for the 4xx and 5xx classes, added to every route. */
export const errorResponses = { '4xx': ErrorEnvelope, '5xx': ErrorEnvelope };

const Limits = Type.Object({
  max_attachment_size: Type.Integer(),
  max_open_attachments: Type.Integer(),
  max_reserved_bytes: Type.Integer({ description: "bytes the user's attachments still uploading may declare but not have sent yet" }),
  attachment_idle_timeout: Type.Integer({ description: 'seconds' }),
  trickle: Type.Boolean({ description: 'uploads may start before the size is known (SPEC 3.8)' }),
  parallel: Type.Boolean({ description: 'chunks of one attachment may be sent in parallel' }),
});

export const PublicUser = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  messaging_enabled: Type.Boolean(),
});

/** A user the caller blocks (SPEC 10). */
export const Block = Type.Object({
  user: Type.Object({ id: Type.Integer(), username: Type.String() }),
  created_at: Type.String({ format: 'date-time' }),
});

export const AccountUser = Type.Composite([
  PublicUser,
  Type.Object({ email: Type.String(), created_at: Type.String({ format: 'date-time' }), limits: Limits }),
]);

const RangeList = Type.Array(Type.Tuple([Type.Integer(), Type.Integer()]), { description: 'sorted, merged, half-open [start, end) pairs' });

export const Attachment = Type.Object({
  id: Type.Integer(),
  filename: Type.String(),
  content_type: Type.String({ description: "sniffed from the first bytes once they are there, named as a clip's audio.content_type names the same file (audio/mp4, not audio/x-m4a); before that the declared type or application/octet-stream" }),
  size: Type.Union([Type.Integer(), Type.Null()], { description: 'null while the size is not known yet' }),
  received: Type.Integer({ description: 'bytes received contiguously from offset 0' }),
  outstanding: Type.Union([Type.Integer(), Type.Null()], { description: 'bytes not received yet; null while the size is not known' }),
  complete: Type.Boolean(),
  received_bytes: Type.Integer(),
  ranges: RangeList,
  missing: RangeList,
  state: Type.Union([Type.Literal('uploading'), Type.Literal('complete'), Type.Literal('used')]),
  sha1: Type.Union([Type.String(), Type.Null()]),
  used_by: Type.Union([
    Type.Object({ type: Type.Union([Type.Literal('audio_clip'), Type.Literal('message')]), id: Type.Integer() }),
    Type.Null(),
  ]),
  expires_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
});
