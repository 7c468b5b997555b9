import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../client/devServer';
import { freePort } from '../worker/ports';

/** The pid of the dev server using this database file (its command line names it). */
function serverPid(dbFile: string): number {
  const pids = execFileSync('pgrep', ['-f', '--', `--db-filename ${dbFile}`], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map(Number);
  assert.equal(pids.length, 1, `one dev server on ${dbFile}`);
  return pids[0] as number;
}

describe("the dev server's SQLite file (real Temporal dev server)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'gameday-devstore-'));
  const db = join(dir, 'temporal.db');
  let server: DevServer | undefined;
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is written ahead (WAL), and what was committed survives the server being SIGKILLed', async () => {
    const port = await freePort();
    server = await startDevServer({ stateDir: dir, port, searchAttributes: false });
    const started = async (check: (client: Client) => Promise<void>) => {
      const connection = await Connection.connect({ address: server?.address ?? '' });
      try {
        await check(new Client({ connection, namespace: 'default' }));
      } finally {
        await connection.close();
      }
    };
    await started(async (client) => {
      // No worker: the workflow only has to be recorded.
      await client.workflow.start('anything', { taskQueue: 'nobody-polls', workflowId: 'kept' });
    });
    assert.ok(existsSync(`${db}-wal`), 'SQLite runs in WAL mode');
    process.kill(serverPid(db), 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 300));
    server = await startDevServer({ stateDir: dir, port, searchAttributes: false });
    await started(async (client) => {
      const described = await client.workflow.getHandle('kept').describe();
      assert.equal(described.status.name, 'RUNNING');
      await client.workflow.getHandle('kept').terminate('test over');
    });
  });
});
