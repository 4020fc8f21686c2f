// grpc.health.v1.Health (proto/grpc/health/v1/health.proto): the health check grpcurl,
// grpc_health_probe and Kubernetes' gRPC probes speak. It needs no token and says only whether
// the store answers, for the server ("") or the query service by name.
import { setTimeout as sleep } from 'node:timers/promises';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import { Health, HealthCheckResponse_ServingStatus as Status, HealthCheckResponseSchema } from '../gen/grpc/health/v1/health_pb.js';
import { QueryService } from '../gen/netspectra/v1/query_pb.js';
import type { Store } from '../storage/index.js';

export { Health };

/** How often Watch looks again; it answers only when the status changes. */
const WATCH_EVERY_MS = 5000;

export function healthService(store: Store): ServiceImpl<typeof Health> {
  const known = (service: string) => service === '' || service === QueryService.typeName;
  const status = async () => ((await store.client.ping().then((r) => r.success, () => false)) ? Status.SERVING : Status.NOT_SERVING);
  return {
    async check(req) {
      if (!known(req.service)) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      return create(HealthCheckResponseSchema, { status: await status() });
    },
    async *watch(req, ctx) {
      if (!known(req.service)) {
        yield create(HealthCheckResponseSchema, { status: Status.SERVICE_UNKNOWN });
        return;
      }
      let last: Status | null = null;
      while (!ctx.signal.aborted) {
        const now = await status();
        if (now !== last) yield create(HealthCheckResponseSchema, { status: now });
        last = now;
        await sleep(WATCH_EVERY_MS, undefined, { signal: ctx.signal }).catch(() => {});
      }
    },
  };
}
