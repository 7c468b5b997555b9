/**
 * SSH runs every command through the remote user's shell, so this is the one place where argv becomes a
 * string. Each argument must match a strict pattern (no quotes, no backslashes, no control characters) and is
 * then single-quoted, which leaves nothing for the shell to interpret.
 */
const safeArgument = /^[A-Za-z0-9 _.,/:=@+%^$-]*$/;

export class UnsafeArgumentError extends Error {
  override readonly name = 'UnsafeArgumentError';
}

/** A fixed shell script written by gameday itself (never built from plan values), passed to `sh -c`. */
export class TrustedScript {
  /** `name` becomes the script's $0, which is what `ps` and error messages show. */
  constructor(
    readonly name: string,
    readonly text: string,
  ) {}
}

export type Argument = string | TrustedScript;

/** Whether an argument passes this boundary (see `shellCommand`). */
export function isSendable(arg: string): boolean {
  return safeArgument.test(arg);
}

/** Single-quoted for sh: nothing inside is interpreted. */
export function quote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

export function shellCommand(argv: readonly Argument[]): string {
  return argv
    .map((arg) => {
      if (arg instanceof TrustedScript) return quote(arg.text);
      if (!isSendable(arg)) {
        throw new UnsafeArgumentError(
          `refusing to send argument ${JSON.stringify(arg)}: it contains shell metacharacters`,
        );
      }
      return quote(arg);
    })
    .join(' ');
}
