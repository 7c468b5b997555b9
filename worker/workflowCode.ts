import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const workflowsPath = require.resolve('../workflows');
/** Written by `npm run setup` next to the compiled code, so workers start in milliseconds instead of seconds. */
export const prebuiltBundlePath = join(__dirname, '..', 'workflow-bundle.js');

/** The workflow code a worker runs: the prebuilt bundle when there is one, else bundled now. */
export function workflowSource(): { workflowBundle: { codePath: string } } | { workflowsPath: string } {
  return existsSync(prebuiltBundlePath)
    ? { workflowBundle: { codePath: prebuiltBundlePath } }
    : { workflowsPath };
}

export async function writeWorkflowBundle(path = prebuiltBundlePath): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: quietLogger });
  await writeFile(path, code);
}

const noop = () => undefined;
const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: console.error };

if (require.main === module) {
  writeWorkflowBundle().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
