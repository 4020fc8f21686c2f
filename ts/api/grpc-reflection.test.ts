// gRPC server reflection on the API port, against a real server over a real embedded store (one
// capture in it): our own reflection client over HTTP/2 (v1 and v1alpha, every kind of request,
// the files decoded and rebuilt into a registry), and grpcurl, an independent gRPC client in Go,
// listing, describing and calling methods with nothing but reflection.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createFileRegistry, create, fromBinary, toJson, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema, type FileDescriptorProto } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { loadBackend } from '../backend/index.js';
import { loadConfig } from '../config/index.js';
import { Health } from '../gen/grpc/health/v1/health_pb.js';
import { ServerReflection, type ServerReflectionRequest, type ServerReflectionResponse } from '../gen/grpc/reflection/v1/reflection_pb.js';
import { ServerReflection as ServerReflectionV1alpha } from '../gen/grpc/reflection/v1alpha/reflection_pb.js';
import { AggregateFlowsResponseSchema, ListTasksResponseSchema, QueryService } from '../gen/netspectra/v1/query_pb.js';
import { openStore, openWindowStorage, type Store } from '../storage/index.js';
import { storeCapture } from '../testing/captures.js';
import { createApiApp } from './http.js';
import { listen, type RunningServer } from './server.js';

const pathspider = join(process.cwd(), '..', 'shared', 'pcaps', 'debian-pathspider-real.pcap');
const TOKEN = 'reflection-test-token-5e1d';
const SERVED = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection', 'netspectra.v1.QueryService'];

const bearer = (token: string): Interceptor => (next) => (req) => {
  req.header.set('authorization', `Bearer ${token}`);
  return next(req);
};

type Ask = Omit<ServerReflectionRequest, '$typeName' | 'host'> & { host?: string };

/** One ServerReflectionInfo stream: each `ask` sends a request and resolves with its answer. The
 * v1alpha stream is read as v1 (the same fields and numbers). */
function reflectionStream(transport: Transport, service: typeof ServerReflection | typeof ServerReflectionV1alpha) {
  const pending: Ask[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  async function* requests() {
    for (;;) {
      while (pending.length) yield { host: '', ...pending.shift()! };
      if (closed) return;
      await new Promise<void>((r) => (wake = r));
    }
  }
  const client = createClient(service as typeof ServerReflection, transport);
  const answers = client.serverReflectionInfo(requests() as AsyncIterable<ServerReflectionRequest>)[Symbol.asyncIterator]();
  return {
    async ask(req: Ask): Promise<ServerReflectionResponse> {
      pending.push(req);
      wake?.();
      const next = await answers.next();
      assert.ok(!next.done, 'the stream answers every request');
      return next.value;
    },
    close() {
      closed = true;
      wake?.();
    },
  };
}

const files = (r: ServerReflectionResponse): FileDescriptorProto[] => {
  assert.equal(r.messageResponse.case, 'fileDescriptorResponse', `a file answer, not ${JSON.stringify(r.messageResponse.value)}`);
  return (r.messageResponse.value as { fileDescriptorProto: Uint8Array[] }).fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b));
};
const names = (r: ServerReflectionResponse) => files(r).map((f) => f.name);
const error = (r: ServerReflectionResponse) => {
  assert.equal(r.messageResponse.case, 'errorResponse');
  return r.messageResponse.value as { errorCode: number; errorMessage: string };
};

/** The files in a registry, each after the files it imports (answers list them the other way). */
function registryOf(list: FileDescriptorProto[]) {
  const ordered: FileDescriptorProto[] = [];
  const left = [...list];
  while (left.length) {
    const i = left.findIndex((f) => f.dependency.every((d) => ordered.some((o) => o.name === d)));
    assert.ok(i >= 0, `every import of ${left.map((f) => f.name).join(', ')} is among the files answered`);
    ordered.push(...left.splice(i, 1));
  }
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

/** A method as a client sees it: its name, types and streaming. */
const shape = (m: DescMethod) => `${m.name}(${m.input.typeName}) ${m.methodKind} ${m.output.typeName}`;
const shapes = (s: DescService) => s.methods.map(shape).sort();

/** grpcurl: GRPCURL, else .toolchain/go/bin (scripts/go-tools.sh), else the PATH. */
function findGrpcurl(): string | null {
  if (process.env.GRPCURL) return process.env.GRPCURL;
  const local = join(process.cwd(), '.toolchain', 'go', 'bin', 'grpcurl');
  if (existsSync(local)) return local;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && existsSync(join(dir, 'grpcurl'))) return join(dir, 'grpcurl');
  return null;
}

describe('gRPC server reflection on the API port', () => {
  let dir: string;
  let store: Store;
  let server: RunningServer;
  let transport: Transport;

  before(async () => {
    assert.ok(existsSync(pathspider), `the shared capture ${pathspider}`);
    dir = mkdtempSync(join(tmpdir(), 'netspectra-reflection-'));
    const cfg = loadConfig({ overrides: { 'storage.path': dir } });
    const storage = openWindowStorage(cfg.storage, { source: 'pathspider', log: () => {} })!;
    await storeCapture(pathspider, cfg, storage, loadBackend());
    await storage.close();
    store = await openStore(cfg.storage);
    server = await listen(createApiApp({ store, maxLimit: 10_000, live: null, tokens: [TOKEN], log: () => {} }), '127.0.0.1', 0);
    transport = createGrpcTransport({ baseUrl: server.url, interceptors: [bearer(TOKEN)] });
  });

  after(async () => {
    await server?.close();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const [version, service] of [['v1', ServerReflection], ['v1alpha', ServerReflectionV1alpha]] as const) {
    test(`${version}: services, files by symbol and by name, each dependency once per stream; what is unknown is NOT_FOUND`, async () => {
      const s = reflectionStream(transport, service);
      try {
        const listed = await s.ask({ messageRequest: { case: 'listServices', value: '' }, host: '127.0.0.1' });
        assert.equal(listed.validHost, '127.0.0.1');
        assert.equal(listed.originalRequest?.messageRequest.case, 'listServices');
        assert.equal(listed.messageResponse.case, 'listServicesResponse');
        assert.deepEqual(listed.messageResponse.case === 'listServicesResponse' && listed.messageResponse.value.service.map((x) => x.name), SERVED);

        // The query service's file, then what it imports; rebuilt into a registry, it describes
        // every method as the generated code does.
        const query = files(await s.ask({ messageRequest: { case: 'fileContainingSymbol', value: 'netspectra.v1.QueryService' } }));
        assert.deepEqual(query.map((f) => f.name), ['netspectra/v1/query.proto', 'google/protobuf/timestamp.proto']);
        const registry = registryOf(query);
        const described = registry.getService('netspectra.v1.QueryService');
        assert.ok(described, 'the service is in the files');
        assert.deepEqual(shapes(described), shapes(QueryService));
        assert.ok(shapes(described).includes('ExtractPackets(netspectra.v1.ExtractPacketsRequest) server_streaming netspectra.v1.ExtractPacketsResponse'));
        assert.deepEqual(
          registry.getMessage('netspectra.v1.AggregateFlowsRequest')?.fields.map((f) => `${f.number} ${f.name} ${f.fieldKind}`),
          QueryService.method.aggregateFlows.input.fields.map((f) => `${f.number} ${f.name} ${f.fieldKind}`),
        );

        // Later answers on the stream leave out files it already carried, never the one asked for.
        for (const symbol of ['netspectra.v1.QueryService.ListTasks', '.netspectra.v1.AggregateFlowsRequest', 'netspectra.v1.AggregateFlowsRequest.group_by']) {
          assert.deepEqual(names(await s.ask({ messageRequest: { case: 'fileContainingSymbol', value: symbol } })), ['netspectra/v1/query.proto'], symbol);
        }
        // Health's file and its nested names: a nested enum, its values (scoped beside the enum), a field.
        for (const symbol of ['grpc.health.v1.Health', 'grpc.health.v1.Health.Watch', 'grpc.health.v1.HealthCheckResponse.ServingStatus', 'grpc.health.v1.HealthCheckResponse.SERVING', 'grpc.health.v1.HealthCheckRequest.service']) {
          assert.deepEqual(names(await s.ask({ messageRequest: { case: 'fileContainingSymbol', value: symbol } })), ['grpc/health/v1/health.proto'], symbol);
        }
        const health = registryOf(files(await s.ask({ messageRequest: { case: 'fileByFilename', value: 'grpc/health/v1/health.proto' } })));
        assert.deepEqual(shapes(health.getService('grpc.health.v1.Health')!), shapes(Health));
        // Reflection describes itself too.
        const own = files(await s.ask({ messageRequest: { case: 'fileContainingSymbol', value: `grpc.reflection.${version}.ServerReflection.ServerReflectionInfo` } }));
        assert.deepEqual(own.map((f) => f.name), [`grpc/reflection/${version}/reflection.proto`]);
        assert.equal(own[0].service[0].method[0].clientStreaming && own[0].service[0].method[0].serverStreaming, true);
        // A well-known type by name: sent again when asked for, though the stream carried it.
        const timestamp = files(await s.ask({ messageRequest: { case: 'fileByFilename', value: 'google/protobuf/timestamp.proto' } }));
        assert.deepEqual(timestamp.map((f) => f.messageType.map((m) => m.name)), [['Timestamp']]);

        // Unknown names are NOT_FOUND answers naming them; the stream goes on.
        for (const [req, text] of [
          [{ case: 'fileContainingSymbol', value: 'netspectra.v1.NoSuchThing' }, /symbol "netspectra\.v1\.NoSuchThing" is not declared/],
          [{ case: 'fileContainingSymbol', value: 'netspectra.v1' }, /symbol "netspectra\.v1" is not declared/],
          [{ case: 'fileByFilename', value: 'netspectra/v1/nope.proto' }, /no file "netspectra\/v1\/nope\.proto"/],
          [{ case: 'fileContainingExtension', value: { containingType: 'netspectra.v1.AggregateFlowsRequest', extensionNumber: 1000 } }, /no extension 1000 of "netspectra\.v1\.AggregateFlowsRequest"/],
          [{ case: 'allExtensionNumbersOfType', value: 'netspectra.v1.Nope' }, /message type "netspectra\.v1\.Nope" is not declared/],
        ] as const) {
          const e = error(await s.ask({ messageRequest: req as Ask['messageRequest'] }));
          assert.equal(e.errorCode, Code.NotFound, JSON.stringify(req));
          assert.match(e.errorMessage, text);
        }
        // A message type without extensions: its name and no numbers.
        const numbers = await s.ask({ messageRequest: { case: 'allExtensionNumbersOfType', value: 'netspectra.v1.AggregateFlowsRequest' } });
        assert.equal(numbers.messageResponse.case, 'allExtensionNumbersResponse');
        const { baseTypeName, extensionNumber } = numbers.messageResponse.value as { baseTypeName: string; extensionNumber: number[] };
        assert.equal(baseTypeName, 'netspectra.v1.AggregateFlowsRequest');
        assert.deepEqual(extensionNumber, []);
        // A request that asks nothing.
        const empty = error(await s.ask({ messageRequest: { case: undefined } }));
        assert.equal(empty.errorCode, Code.InvalidArgument);
        assert.match(empty.errorMessage, /sets none of list_services/);
        // And still answering.
        assert.deepEqual(names(await s.ask({ messageRequest: { case: 'fileContainingSymbol', value: 'google.protobuf.Timestamp.nanos' } })), ['google/protobuf/timestamp.proto']);
      } finally {
        s.close();
      }
    });
  }

  test('reflection needs the bearer token, like the query service; the health check does not', async () => {
    for (const [token, version] of [[null, ServerReflection], ['wrong', ServerReflectionV1alpha]] as const) {
      const s = reflectionStream(createGrpcTransport({ baseUrl: server.url, interceptors: token ? [bearer(token)] : [] }), version);
      await assert.rejects(s.ask({ messageRequest: { case: 'listServices', value: '' } }), (e: ConnectError) => e.code === Code.Unauthenticated && /a valid bearer token is required/.test(e.rawMessage));
      s.close();
    }
    assert.ok((await createClient(Health, createGrpcTransport({ baseUrl: server.url })).check({})).status > 0);
  });

  const grpcurl = findGrpcurl();
  test('grpcurl lists, describes and calls the API through reflection alone', { skip: grpcurl ? false : 'grpcurl is not installed: `make go-tools` (scripts/go-tools.sh) builds it into .toolchain/go/bin; CI runs it before the tests' }, async () => {
    const address = `127.0.0.1:${server.port}`;
    // Asynchronously: the server answers from this process.
    const run = (args: string[], token: string | null = TOKEN) =>
      new Promise<{ status: number; out: string; err: string }>((resolve) => {
        execFile(grpcurl!, ['-plaintext', ...(token ? ['-H', `authorization: Bearer ${token}`] : []), ...args], { encoding: 'utf8', timeout: 30_000 }, (e, out, err) => {
          resolve({ status: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out, err });
        });
      });
    const list = await run([address, 'list']);
    assert.equal(list.status, 0, list.err);
    assert.deepEqual(list.out.trim().split('\n'), SERVED);

    const described = await run([address, 'describe', 'netspectra.v1.QueryService']);
    assert.equal(described.status, 0, described.err);
    assert.match(described.out, /^netspectra\.v1\.QueryService is a service:/);
    for (const m of QueryService.methods) {
      const stream = m.methodKind === 'server_streaming' ? 'stream ' : '';
      assert.ok(described.out.includes(`rpc ${m.name} ( .${m.input.typeName} ) returns ( ${stream}.${m.output.typeName} );`), `${m.name} in:\n${described.out}`);
    }
    const message = await run([address, 'describe', 'netspectra.v1.AggregateFlowsRequest']);
    assert.equal(message.status, 0, message.err);
    assert.match(message.out, /repeated string group_by = 4;/);
    assert.match(message.out, /\.netspectra\.v1\.TimeRange range = 2;/);

    // Calls with the request as JSON, encoded from the reflected descriptors: the same answers
    // as the generated client gets.
    const client = createClient(QueryService, transport);
    const tasks = await run(['-d', '{}', address, 'netspectra.v1.QueryService/ListTasks']);
    assert.equal(tasks.status, 0, tasks.err);
    const expected = await client.listTasks({});
    assert.ok(expected.tasks.length > 0, 'the store holds tasks');
    assert.deepEqual(JSON.parse(tasks.out), toJson(ListTasksResponseSchema, expected));
    const task = expected.tasks.find((t) => t.type === 'exact')!.name;
    const flows = await run(['-d', JSON.stringify({ task, limit: 3, orderBy: 'bytes' }), address, 'netspectra.v1.QueryService/AggregateFlows']);
    assert.equal(flows.status, 0, flows.err);
    const expectedFlows = toJson(AggregateFlowsResponseSchema, await client.aggregateFlows({ task, limit: 3, orderBy: 'bytes' })) as { rows: unknown[] };
    assert.equal(expectedFlows.rows.length, 3);
    assert.deepEqual(JSON.parse(flows.out), expectedFlows);
    // A bad argument comes back as the server's InvalidArgument.
    const bad = await run(['-d', '{"task": "no_such_task"}', address, 'netspectra.v1.QueryService/AggregateFlows']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.err, /Code: InvalidArgument/);
    assert.match(bad.err, /no_such_task/);

    // Without the token reflection is refused, and grpcurl says why; so is a call described
    // from the .proto files (the refusal is a trailers-only response, as gRPC clients read it).
    const refused = await run([address, 'list'], null);
    assert.notEqual(refused.status, 0);
    assert.match(refused.err, /code = Unauthenticated desc = a valid bearer token is required/);
    const fromProto = await run(['-import-path', join(process.cwd(), 'proto'), '-proto', 'netspectra/v1/query.proto', '-d', '{}', address, 'netspectra.v1.QueryService/ListTasks'], 'wrong');
    assert.notEqual(fromProto.status, 0);
    assert.match(fromProto.err, /Code: Unauthenticated\s+Message: a valid bearer token is required/);
  });
});
