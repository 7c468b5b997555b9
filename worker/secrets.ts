import { readFile } from 'node:fs/promises';
import { workerSecrets } from '../activities/redact';

/**
 * Reads a secret named by the configuration, at the moment it is needed: a rotated token is picked up. Each
 * one read is registered with the redactor, so no stored message can carry it.
 */
export async function secret(
  what: string,
  envName: string | undefined,
  file: string | undefined,
): Promise<string> {
  if (envName !== undefined) {
    const value = process.env[envName];
    if (value === undefined || value === '') {
      throw new Error(`${what}: environment variable ${envName} is not set on this worker`);
    }
    workerSecrets.register(value);
    return value;
  }
  try {
    const value = (await readFile(file as string, 'utf8')).trim();
    workerSecrets.register(value);
    return value;
  } catch (error) {
    throw new Error(
      `${what}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
}
