import { commandCheck } from './command';
import type { CheckKind } from './contract';
import { httpCheck } from './http';
import { kubernetesCheck } from './kubernetes';
import { prometheusCheck } from './prometheus';
import { tcpCheck } from './tcp';

/** Every probe kind, by the key a plan's check uses for it. */
export const checkKinds = {
  http: httpCheck,
  tcp: tcpCheck,
  command: commandCheck,
  prometheus: prometheusCheck,
  kubernetes: kubernetesCheck,
} as const satisfies Record<string, CheckKind<unknown>>;

export type CheckKey = keyof typeof checkKinds;
export const checkKeys = Object.keys(checkKinds) as CheckKey[];
