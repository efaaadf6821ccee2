/**
 * How Fastify turns the route schemas into code. Replies are serialized by fast-json-stringify,
 * as Fastify does by default, but each route's serializer is built on its first reply instead of
 * at start: building all of them was a third of the time to ready (about 0.8 s of CPU), and most
 * servers never answer half their routes' error statuses. Requests are not validated from the
 * schemas (http/params.ts checks the merged parameters), so no validator is built and Ajv loads
 * only when a serializer needs it.
 */
import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;
type CompilersFactory = NonNullable<SchemaController['compilersFactory']>;
type SerializerFactory = NonNullable<CompilersFactory['buildSerializer']>;
type Serializer = (data: unknown) => string;

const require = createRequire(import.meta.url);

/** Serializers not built yet, so a test can build them all and see that every schema compiles. */
const pending = new Set<() => Serializer>();

const buildSerializer: SerializerFactory = (externalSchemas, options) => {
  let compile: ReturnType<SerializerFactory> | null = null;
  return (routeSchema) => {
    let serializer: Serializer | null = null;
    const build = (): Serializer => {
      if (serializer) return serializer;
      // Loaded on the first reply: fast-json-stringify brings Ajv with it.
      compile ??= (require('@fastify/fast-json-stringify-compiler') as { SerializerSelector: () => SerializerFactory }).SerializerSelector()(externalSchemas, options);
      serializer = compile(routeSchema) as Serializer;
      pending.delete(build);
      return serializer;
    };
    pending.add(build);
    return (data: unknown) => build()(data);
  };
};

export const schemaController: SchemaController = {
  compilersFactory: {
    // Typed for Ajv's compile results; Fastify only calls what it returns.
    buildValidator: (() => () => () => true) as unknown as CompilersFactory['buildValidator'],
    buildSerializer,
  },
};

/** Builds every serializer still waiting for its first reply; throws what a schema's compilation throws. */
export function buildPendingSerializers(): number {
  const builds = [...pending];
  for (const build of builds) build();
  return builds.length;
}
