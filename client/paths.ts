import { join } from 'node:path';

/** The repository root: compiled files live in dist/<dir>/, sources in <dir>/. */
export const projectRoot = __dirname.includes(`${'/'}dist${'/'}`)
  ? join(__dirname, '..', '..')
  : join(__dirname, '..');

/** Git-ignored home of built tools (the Temporal CLI). */
export const toolsBin = join(projectRoot, '.tools', 'bin');

/**
 * Git-ignored state of `gameday dev` and the demo (the dev server's database file survives restarts), or
 * GAMEDAY_STATE_DIR's.
 */
export const stateDir = process.env.GAMEDAY_STATE_DIR || join(projectRoot, '.gameday');

/** The dev server's state: its database file and the ports it took (client/devServer.ts). */
export const devStateDir = join(stateDir, 'dev');
