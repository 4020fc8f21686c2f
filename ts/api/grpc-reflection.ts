// gRPC server reflection, grpc.reflection.v1 and grpc.reflection.v1alpha
// (proto/grpc/reflection/): grpcurl, Postman and evans learn from it which services the port
// serves and how their messages look, without .proto files. The answers are the descriptors
// generated into ts/gen (the files of the served services and every file they import,
// google/protobuf's included), serialized as FileDescriptorProto. Comments are not among them:
// generated descriptors carry no source info.
import { create, fromBinary, toBinary, type DescFile, type DescService, type MessageInitShape } from '@bufbuild/protobuf';
import { nestedTypes } from '@bufbuild/protobuf/reflect';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { Code, type ServiceImpl } from '@connectrpc/connect';
import {
  ServerReflection, ServerReflectionRequestSchema, ServerReflectionResponseSchema, type ServerReflectionRequest, type ServerReflectionResponse,
} from '../gen/grpc/reflection/v1/reflection_pb.js';
import {
  ServerReflection as ServerReflectionV1alpha, ServerReflectionRequestSchema as RequestV1alphaSchema, ServerReflectionResponseSchema as ResponseV1alphaSchema,
} from '../gen/grpc/reflection/v1alpha/reflection_pb.js';

export { ServerReflection, ServerReflectionV1alpha };

/** Every file the served services need, by file name and by each fully qualified name it declares. */
export class DescriptorIndex {
  /** The served services' names, sorted; the reflection services themselves included. */
  readonly services: string[];
  private readonly files = new Map<string, DescFile>();
  private readonly symbols = new Map<string, DescFile>();
  private readonly messages = new Set<string>();
  /** Extendee type name -> extension number -> the file declaring the extension. */
  private readonly extensions = new Map<string, Map<number, DescFile>>();
  private readonly encoded = new Map<string, Uint8Array>();

  constructor(served: DescService[]) {
    const all = [...served, ServerReflection, ServerReflectionV1alpha];
    this.services = [...new Set(all.map((s) => s.typeName))].sort();
    for (const s of all) this.addFile(s.file);
  }

  private addFile(file: DescFile): void {
    const name = file.proto.name;
    const known = this.files.get(name);
    if (known === file) return;
    if (known) throw new Error(`reflection: two different descriptors of ${name}`);
    this.files.set(name, file);
    for (const t of nestedTypes(file)) {
      const names: string[] = [t.typeName];
      if (t.kind === 'service') names.push(...t.methods.map((m) => `${t.typeName}.${m.name}`));
      else if (t.kind === 'message') {
        this.messages.add(t.typeName);
        names.push(...t.members.map((m) => `${t.typeName}.${m.name}`));
      } else if (t.kind === 'enum') {
        // Enum values are scoped beside their enum, as in C++: pkg.VALUE, pkg.Message.VALUE.
        const scope = t.typeName.slice(0, t.typeName.length - t.name.length);
        names.push(...t.values.map((v) => `${scope}${v.name}`));
      } else {
        const byNumber = this.extensions.get(t.extendee.typeName) ?? new Map<number, DescFile>();
        byNumber.set(t.number, file);
        this.extensions.set(t.extendee.typeName, byNumber);
      }
      for (const n of names) this.symbols.set(n, file);
    }
    for (const dep of file.dependencies) this.addFile(dep);
  }

  file(name: string): DescFile | undefined {
    return this.files.get(name);
  }

  /** The file declaring a service, method, message, field, oneof, enum, enum value or extension. */
  fileOfSymbol(name: string): DescFile | undefined {
    return this.symbols.get(name.replace(/^\./, ''));
  }

  fileOfExtension(typeName: string, number: number): DescFile | undefined {
    return this.extensions.get(typeName.replace(/^\./, ''))?.get(number);
  }

  /** The numbers of the known extensions of a message type; undefined: no such message type. */
  extensionNumbers(typeName: string): number[] | undefined {
    const name = typeName.replace(/^\./, '');
    if (!this.messages.has(name)) return undefined;
    return [...(this.extensions.get(name)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /** The file, then its imports transitively, each once. Files in `sent` (those an earlier answer
   * on the stream carried) are left out, except the file asked for; what is sent is added. */
  withDependencies(file: DescFile, sent: Set<string>): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const queue = [file];
    for (let f = queue.shift(); f; f = queue.shift()) {
      const name = f.proto.name;
      if (seen.has(name)) continue;
      seen.add(name);
      if (f === file || !sent.has(name)) {
        out.push(this.bytes(f));
        sent.add(name);
      }
      queue.push(...f.dependencies);
    }
    return out;
  }

  private bytes(file: DescFile): Uint8Array {
    let b = this.encoded.get(file.proto.name);
    if (!b) this.encoded.set(file.proto.name, (b = toBinary(FileDescriptorProtoSchema, file.proto)));
    return b;
  }
}

const notFound = (message: string) => ({ case: 'errorResponse' as const, value: { errorCode: Code.NotFound, errorMessage: message } });

/** The answer to one request; `sent` holds the files already sent on the same stream. */
export function answer(index: DescriptorIndex, req: ServerReflectionRequest, sent: Set<string>): ServerReflectionResponse {
  const r = req.messageRequest;
  const files = (file: DescFile) => ({ case: 'fileDescriptorResponse' as const, value: { fileDescriptorProto: index.withDependencies(file, sent) } });
  let messageResponse: MessageInitShape<typeof ServerReflectionResponseSchema>['messageResponse'];
  switch (r.case) {
    case 'listServices':
      messageResponse = { case: 'listServicesResponse', value: { service: index.services.map((name) => ({ name })) } };
      break;
    case 'fileByFilename': {
      const f = index.file(r.value);
      messageResponse = f ? files(f) : notFound(`no file "${r.value}" among the descriptors of this server's services`);
      break;
    }
    case 'fileContainingSymbol': {
      const f = index.fileOfSymbol(r.value);
      messageResponse = f ? files(f) : notFound(`symbol "${r.value}" is not declared in the descriptors of this server's services`);
      break;
    }
    case 'fileContainingExtension': {
      const { containingType, extensionNumber } = r.value;
      const f = index.fileOfExtension(containingType, extensionNumber);
      messageResponse = f ? files(f) : notFound(`no extension ${extensionNumber} of "${containingType}" in the descriptors of this server's services`);
      break;
    }
    case 'allExtensionNumbersOfType': {
      const numbers = index.extensionNumbers(r.value);
      messageResponse = numbers
        ? { case: 'allExtensionNumbersResponse', value: { baseTypeName: r.value.replace(/^\./, ''), extensionNumber: numbers } }
        : notFound(`message type "${r.value}" is not declared in the descriptors of this server's services`);
      break;
    }
    default:
      messageResponse = {
        case: 'errorResponse',
        value: { errorCode: Code.InvalidArgument, errorMessage: 'the request sets none of list_services, file_by_filename, file_containing_symbol, file_containing_extension, all_extension_numbers_of_type' },
      };
  }
  return create(ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req, messageResponse });
}

/** The reflection services over the services a router serves (the reflection services are added). */
export function reflectionServices(served: DescService[]): {
  v1: ServiceImpl<typeof ServerReflection>;
  v1alpha: ServiceImpl<typeof ServerReflectionV1alpha>;
} {
  const index = new DescriptorIndex(served);
  return {
    v1: {
      async *serverReflectionInfo(requests) {
        const sent = new Set<string>();
        for await (const req of requests) yield answer(index, req, sent);
      },
    },
    // v1alpha's messages are v1's under another package: the same bytes, read as v1 and back.
    v1alpha: {
      async *serverReflectionInfo(requests) {
        const sent = new Set<string>();
        for await (const req of requests) {
          const res = answer(index, fromBinary(ServerReflectionRequestSchema, toBinary(RequestV1alphaSchema, req)), sent);
          yield fromBinary(ResponseV1alphaSchema, toBinary(ServerReflectionResponseSchema, res));
        }
      },
    },
  };
}
