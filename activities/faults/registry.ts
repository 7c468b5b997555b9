import { chaosMesh } from './chaosMesh';
import { isKubernetesKind, type AnyFaultKind, type FaultKind } from './contract';
import { containerKill } from './containerKill';
import { containerPause } from './containerPause';
import { containerRestart } from './containerRestart';
import { containerStop } from './containerStop';
import { diskFill } from './diskFill';
import { ioThrottle } from './ioThrottle';
import { networkBandwidth } from './networkBandwidth';
import { networkCorrupt } from './networkCorrupt';
import { networkDelay } from './networkDelay';
import { networkDuplicate } from './networkDuplicate';
import { networkLoss } from './networkLoss';
import { networkLossIptables } from './networkLossIptables';
import { networkPartition } from './networkPartition';
import { nodeCordon } from './nodeCordon';
import { nodeDrain } from './nodeDrain';
import { podDelete } from './podDelete';
import { processKill } from './processKill';
import { processPause } from './processPause';
import { scale } from './scale';
import { serviceRestart } from './serviceRestart';
import { serviceStop } from './serviceStop';
import { stress } from './stress';

/** Every fault kind gameday knows, by the name plans use in `kind:`. */
export const faultKinds = {
  'process-pause': processPause,
  'process-kill': processKill,
  'network-partition': networkPartition,
  'network-loss-iptables': networkLossIptables,
  'disk-fill': diskFill,
  'network-bandwidth': networkBandwidth,
  'network-delay': networkDelay,
  'network-loss': networkLoss,
  'network-corrupt': networkCorrupt,
  'network-duplicate': networkDuplicate,
  'service-stop': serviceStop,
  'service-restart': serviceRestart,
  'io-throttle': ioThrottle,
  stress,
  'container-pause': containerPause,
  'container-stop': containerStop,
  'container-kill': containerKill,
  'container-restart': containerRestart,
  'pod-delete': podDelete,
  'node-cordon': nodeCordon,
  'node-drain': nodeDrain,
  scale,
  'chaos-mesh': chaosMesh,
} as const satisfies Record<string, AnyFaultKind>;

export type FaultKindName = keyof typeof faultKinds;

export function getFaultKind(kind: string): AnyFaultKind {
  const found = (faultKinds as Record<string, AnyFaultKind>)[kind];
  if (found === undefined) throw new Error(`unknown fault kind "${kind}"`);
  return found;
}

/** A kind that acts on hosts, by name (fails for a Kubernetes kind). */
export function getHostFaultKind(kind: string): FaultKind<unknown, unknown> {
  const found = getFaultKind(kind);
  if (isKubernetesKind(found)) throw new Error(`fault kind "${kind}" acts on Kubernetes, not on hosts`);
  return found;
}
