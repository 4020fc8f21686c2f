// The API's clients (`import { createQueryClient } from 'netspectra/client'`): typed Connect
// clients of the query and AI services over Connect, gRPC or gRPC-web, with the bearer token.
import { createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { QueryService } from '../gen/netspectra/v1/query_pb.js';
import { AiService } from '../gen/netspectra/v1/ai_pb.js';

export * from '../gen/netspectra/v1/query_pb.js';
export * from '../gen/netspectra/v1/ai_pb.js';

export interface ClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  /** An API token (sent as `authorization: Bearer <token>`). */
  token?: string;
  /** Wire protocol: Connect over HTTP/1.1 (default), gRPC over HTTP/2, or gRPC-web. */
  protocol?: 'connect' | 'grpc' | 'grpc-web';
}

function transport(o: ClientOptions) {
  const bearer: Interceptor = (next) => (req) => {
    if (o.token) req.header.set('authorization', `Bearer ${o.token}`);
    return next(req);
  };
  const interceptors = [bearer];
  switch (o.protocol ?? 'connect') {
    case 'grpc':
      return createGrpcTransport({ baseUrl: o.baseUrl, interceptors });
    case 'grpc-web':
      return createGrpcWebTransport({ baseUrl: o.baseUrl, httpVersion: '1.1', interceptors });
    case 'connect':
      return createConnectTransport({ baseUrl: o.baseUrl, httpVersion: '1.1', interceptors });
    default:
      throw new Error(`unknown protocol "${String(o.protocol)}": expected connect, grpc or grpc-web`);
  }
}

/** A client of `netspectra.v1.QueryService` (windows, tasks, flows, alerts, packets). */
export function createQueryClient(o: ClientOptions): Client<typeof QueryService> {
  return createClient(QueryService, transport(o));
}

/** A client of `netspectra.v1.AiService` (the assistant; its own port). */
export function createAiClient(o: ClientOptions): Client<typeof AiService> {
  return createClient(AiService, transport(o));
}
