import { NamespaceNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import { CliError, exitCodes } from './exitCodes';

/**
 * Errors of Temporal's client a person causes (a mistyped id, a namespace that does not exist), as the one line
 * and exit code they get; undefined for anything else.
 */
export function cliErrorOf(error: unknown): CliError | undefined {
  if (error instanceof WorkflowNotFoundError) {
    return new CliError(
      `no game day ${error.workflowId} in this namespace: \`gameday list\` shows them (check --namespace)`,
      exitCodes.usage,
    );
  }
  if (error instanceof NamespaceNotFoundError) {
    return new CliError(
      `namespace ${error.namespace} does not exist on this Temporal: check --namespace (or TEMPORAL_NAMESPACE)`,
      exitCodes.usage,
    );
  }
  return undefined;
}
