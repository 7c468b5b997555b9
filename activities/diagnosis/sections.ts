/** One `@@name arg` section of a diagnosis script's output. */
export interface Section {
  readonly name: string;
  readonly arg: string;
  readonly lines: string[];
}

/**
 * Splits a script's output into its `@@name [arg]` sections. The scripts print every marker themselves, at the
 * start of a line; what the files they read contain never starts with `@@` (/proc files do not).
 */
export function splitSections(output: string): Section[] {
  const sections: Section[] = [];
  let current: Section | undefined;
  for (const line of output.split('\n')) {
    const marker = /^@@(\S+)(?: (.*))?$/.exec(line);
    if (marker) {
      current = { name: marker[1] ?? '', arg: marker[2] ?? '', lines: [] };
      sections.push(current);
    } else if (current && line !== '') {
      current.lines.push(line);
    }
  }
  return sections;
}

/**
 * A section by name (and arg): its lines, or why it could not be read. A script follows a failed read
 * (`cat FILE 2>&1 || echo @@unreadable`) by an `@@unreadable` marker; the section then holds the error.
 */
export function section(
  sections: readonly Section[],
  name: string,
  arg = '',
): { readonly lines: readonly string[] } | { readonly error: string } {
  const index = sections.findIndex((s) => s.name === name && s.arg === arg);
  const found = sections[index];
  if (found === undefined) return { error: 'not read (the script stopped early)' };
  if (sections[index + 1]?.name === 'unreadable') {
    return {
      error:
        found.lines
          .join(' ')
          .replace(/^\S+: /, '')
          .trim() || 'unreadable',
    };
  }
  return { lines: found.lines };
}
