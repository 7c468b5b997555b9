import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { projectRoot } from '../../client/paths';

/** docker-compose.yml as the tests read it: its services, their mounts resolved in the repository. */
export const repo = (...parts: string[]): string => join(projectRoot, ...parts);

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
}
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export const composeText = readFileSync(repo('docker-compose.yml'), 'utf8');
export const compose = parse(composeText) as ComposeFile;

export function service(name: string): ComposeService {
  const found = compose.services[name];
  assert.ok(found, `docker-compose.yml has no service ${name}`);
  return found;
}

/** A service's bind mounts (`./host:/container[:ro]`), the host side resolved in the repository. */
export function bindMounts(name: string): { host: string; container: string }[] {
  return (service(name).volumes ?? [])
    .filter((volume) => volume.startsWith('./'))
    .map((volume) => {
      const [host = '', container = ''] = volume.split(':');
      return { host: repo(host), container };
    });
}
