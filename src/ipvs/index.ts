// src/ipvs: the IPVS side of vipkeeper.
//   model.ts      the kernel table as data; identity keys vs settable fields
//   desired.ts    config + health state → desired table (pure)
//   diff.ts       plan(desired, actual) → ordered operations (pure)
//   backend.ts    the backend interface; netlink.ts (real, default), ipvsadm.ts (real) and memory.ts
//                 (tests) implement it; factory.ts picks one from config.ipvs.backend
//   reconciler.ts the level-triggered loop: resync, drift correction, graceful drain, sync daemon
export { IpvsError, type ApplyResult, type IpvsBackend, type IpvsErrorKind, type SyncDaemon, type SyncDaemonRole } from './backend.js';
export { allUp, desiredTable, virtualServerId, type BackendState, type DesiredResult, type PoolServer, type PoolState } from './desired.js';
export { applyPlan, describeOperation, plan, summarizePlan, type ManageMode, type Operation, type PlanOptions } from './diff.js';
export { IpvsadmBackend, parseSave, renderSave, renderScript, type IpvsadmBackendOptions } from './ipvsadm.js';
export { MemoryBackend } from './memory.js';
export { NetlinkIpvsBackend, type NetlinkIpvsBackendOptions } from './netlink.js';
export { createIpvsBackend } from './factory.js';
export { destKey, serviceKey, type Dest, type IpvsTable, type Service, type ServiceId } from './model.js';
export {
  Reconciler,
  systemClock,
  type Clock,
  type DrainingDest,
  type Logger,
  type ReconcilerOptions,
  type ReconcilerSnapshot,
  type ReconcilerStatus,
  type RunReport,
  type VrrpState,
} from './reconciler.js';
