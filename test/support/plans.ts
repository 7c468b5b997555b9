// Plans for tests, written as users write them and parsed by the same code as `gameday run`.
import { stringify } from 'yaml';
import { parsePlan } from '../../plan/load';
import type { Plan } from '../../plan/schema';
import type { TestService } from './services';

export type PlanOverrides = Record<string, unknown>;

/** A plan as YAML text goes through the same parser as `gameday run`, so tests use validated plans only. */
export function planFrom(document: PlanOverrides): { plan: Plan; digest: string } {
  const result = parsePlan(stringify(document), 'test-plan.yaml');
  if (!result.ok) throw new Error(result.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return result;
}

/** A minimal valid plan document: one local target group, a 2 s window; tests override what they need. */
export function gameDayPlan(overrides: PlanOverrides = {}): PlanOverrides {
  return {
    apiVersion: 'gameday.dev/v1alpha1',
    kind: 'GameDay',
    metadata: { name: 'test-pause', owner: 'tests' },
    targets: { here: { local: {} } },
    checks: [],
    observation: { window: '2s', sampleInterval: '500ms' },
    recovery: { within: '10s', interval: '200ms' },
    ...overrides,
  };
}

/** The demo plan against a test service: healthy before and after, paused in between. */
export function pausePlan(service: TestService, overrides: PlanOverrides = {}): PlanOverrides {
  const url = `http://127.0.0.1:${service.port}/health`;
  return gameDayPlan({
    checks: [
      { name: 'healthy', when: ['before', 'after'], http: { url, timeout: '1s' } },
      { name: 'frozen', when: ['during'], expect: 'fail', http: { url, timeout: '300ms' } },
    ],
    faults: [{ name: 'pause', kind: 'process-pause', target: 'here', params: { pidfile: service.pidfile } }],
    ...overrides,
  });
}

/** A process-kill plan: rollback restarts the service from its recorded command line and waits for its port. */
/**
 * `settle` is how long the restarted service must stay up: a test that squats the port needs it longer than
 * the service takes to start and fail its bind on a loaded machine, or the rollback passes before it fails.
 */
export function killPlan(service: TestService, window = '2s', settle = '300ms'): PlanOverrides {
  return pausePlan(service, {
    metadata: { name: 'test-kill', owner: 'tests' },
    checks: [
      {
        name: 'healthy',
        when: ['before', 'after'],
        http: { url: `http://127.0.0.1:${service.port}/health` },
      },
    ],
    faults: [
      {
        name: 'kill',
        kind: 'process-kill',
        target: 'here',
        params: {
          pidfile: service.pidfile,
          ready: { tcpPort: service.port, timeout: '5s', settle },
        },
      },
    ],
    observation: { window, sampleInterval: '500ms' },
  });
}
