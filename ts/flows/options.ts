// The flow cache's options from the configuration, as the compiled backends take them.
import type { FlowOptions } from '../backend/index.js';
import type { FlowsConfig } from '../config/index.js';

/** Null when flow records are off. `probe` names records made from capture files. */
export function flowOptions(cfg: FlowsConfig, probe?: string): FlowOptions | undefined {
  if (!cfg.enabled) return undefined;
  return {
    idleTcp: cfg.idleTcp,
    idleUdp: cfg.idleUdp,
    idleIcmp: cfg.idleIcmp,
    idleOther: cfg.idleOther,
    activeTimeout: cfg.activeTimeout,
    closedLinger: cfg.closedLinger,
    maxFlows: cfg.maxFlows,
    localNetworks: cfg.localNetworks.join(','),
    probe,
    names: cfg.names,
  };
}
