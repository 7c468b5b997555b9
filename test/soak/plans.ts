// The soak's plans: 2–3 faults drawn from a pool of local and SSH kinds, a 1–2 s window, the local services
// checked healthy before and after. Written as users write plans and parsed by the same loader (startPlan).
import type { TestHost } from '../support/hosts';
import { gameDayPlan, type PlanOverrides } from '../support/plans';
import type { HostSleeper, LocalService } from './residue';
import type { Random } from './random';

export interface SoakLab {
  readonly hosts: readonly [TestHost, TestHost, TestHost];
  readonly pauseService: LocalService;
  readonly killService: LocalService;
  readonly pauseSleeper: HostSleeper;
  readonly killSleeper: HostSleeper;
  readonly localFillDir: string;
  readonly sshFillDir: string;
}

export interface SoakFault {
  readonly name: string;
  readonly kind: string;
  readonly target: string;
  readonly params: Record<string, unknown>;
  /** The SSH host it acts on; undefined for the worker's own machine. */
  readonly host?: TestHost;
}

/** Lease of every fault's dead-man switch: short, so that an SSH cut outlasts it. */
export const leaseMs = 5000;

export function faultPool(lab: SoakLab): SoakFault[] {
  const [h1, h2, h3] = lab.hosts;
  return [
    {
      name: 'local-pause',
      kind: 'process-pause',
      target: 'here',
      params: { pidfile: lab.pauseService.pidfile },
    },
    {
      name: 'local-kill',
      kind: 'process-kill',
      target: 'here',
      params: {
        pidfile: lab.killService.pidfile,
        ready: { tcpPort: lab.killService.port, timeout: '15s', settle: '200ms' },
      },
    },
    { name: 'local-fill', kind: 'disk-fill', target: 'here', params: { path: lab.localFillDir, size: '4M' } },
    {
      name: 'ssh-partition',
      kind: 'network-partition',
      target: 'h1',
      params: { peers: [h2.address] },
      host: h1,
    },
    {
      name: 'ssh-tbf',
      kind: 'network-bandwidth',
      target: 'h2',
      params: { interface: 'eth0', rate: '1mbit' },
      host: h2,
    },
    {
      name: 'ssh-pause',
      kind: 'process-pause',
      target: 'h3',
      params: { pidfile: lab.pauseSleeper.pidfile },
      host: h3,
    },
    {
      name: 'ssh-kill',
      kind: 'process-kill',
      target: 'h3',
      params: { pidfile: lab.killSleeper.pidfile },
      host: h3,
    },
    {
      name: 'ssh-fill',
      kind: 'disk-fill',
      target: 'h1',
      params: { path: lab.sshFillDir, size: '4M' },
      host: h1,
    },
    {
      name: 'ssh-stress',
      kind: 'stress',
      target: 'h2',
      params: { cpu: { workers: 1, load: 10 }, duration: '2m' },
      host: h2,
    },
  ];
}

export interface SoakPlan {
  readonly document: PlanOverrides;
  readonly faults: readonly SoakFault[];
  readonly windowMs: number;
}

export function soakPlan(lab: SoakLab, random: Random): SoakPlan {
  const pool = faultPool(lab);
  const faults = random.shuffle(pool).slice(0, random.int(2, 3));
  const windowMs = random.pick([1000, 1500, 2000]);
  const [h1, h2, h3] = lab.hosts;
  const healthy = (service: LocalService) => ({
    name: `${service.name}-healthy`,
    when: ['before', 'after'],
    http: { url: `http://127.0.0.1:${service.port}/health`, timeout: '1s' },
  });
  const document = gameDayPlan({
    metadata: { name: 'soak', owner: 'soak', description: faults.map((f) => f.name).join(', ') },
    targets: {
      here: { local: {} },
      h1: { ssh: { hosts: [h1.name] } },
      h2: { ssh: { hosts: [h2.name] } },
      h3: { ssh: { hosts: [h3.name] } },
    },
    checks: [
      healthy(lab.pauseService),
      healthy(lab.killService),
      // Sampled through the window, so the window is one heartbeating activity a kill can land in.
      { name: 'worker-can-run-commands', when: ['during'], command: { argv: ['true'] } },
    ],
    faults: faults.map(({ name, kind, target, params }) => ({ name, kind, target, params })),
    observation: { window: `${windowMs}ms`, sampleInterval: '500ms' },
    recovery: { within: '20s', interval: '300ms' },
    deadManSwitch: { lease: `${leaseMs}ms` },
  });
  return { document, faults, windowMs };
}
