import { stringify } from 'yaml';
import { parsePlan } from '../../plan/load';
import type { ProbeSpec } from '../../plan/schema';

/**
 * One check as a plan would have it, through the plan parser, so defaults and durations are as in a real plan.
 * `fields` is the check's YAML (when, expect, the probe, …) without its name.
 */
export function parsedCheck(fields: Record<string, unknown>): ProbeSpec {
  const parsed = parsePlan(
    stringify({
      apiVersion: 'gameday.dev/v1alpha1',
      kind: 'GameDay',
      metadata: { name: 'checks', owner: 'tests' },
      targets: { here: { local: {} } },
      checks: [{ name: 'c', ...fields }],
      faults: [{ name: 'f', kind: 'process-pause', target: 'here', params: { pidfile: '/tmp/x.pid' } }],
      observation: { window: '1s' },
    }),
    'checks.yaml',
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.plan.checks[0] as ProbeSpec;
}
