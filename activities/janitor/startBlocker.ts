import type { ActivityDeps } from '../deps';
import type { StartBlockerSource } from '../startBlockers';
import { findLeftovers } from './findings';

/** At most this many leftovers are named in a refusal; the janitor lists them all. */
const namedAtMost = 5;

/**
 * Leftovers of finished runs on the plan's targets (or recorded by earlier runs of the plan) block a scheduled
 * start: chaos is never piled on an unclean system. `gameday janitor --apply` removes them.
 */
export const janitorLeftovers =
  (deps: ActivityDeps): StartBlockerSource =>
  async (input, client) => {
    const found = await findLeftovers(deps, client, { targets: input.targets ?? [], plan: input.plan });
    // Files alone (a switch that fired, a stray log) change nothing; the janitor lists them all the same.
    const findings = found.filter((finding) => finding.inert !== true);
    const named = findings.slice(0, namedAtMost).map((finding) => {
      const run = finding.run ? ` (run ${finding.run.workflowId}, ${finding.run.status})` : '';
      return `leftover on ${finding.host} of run tag ${finding.tag}${run}: ${finding.what}`;
    });
    if (findings.length > namedAtMost) named.push(`and ${findings.length - namedAtMost} more leftovers`);
    const last = named.pop();
    return last === undefined ? [] : [...named, `${last} (\`gameday janitor --apply\` removes them)`];
  };
