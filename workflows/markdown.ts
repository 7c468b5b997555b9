// The Temporal UI renders a workflow's summary and details as Markdown. Pure: used by the workflow and the CLI.

/**
 * Text shown as itself in Markdown: its punctuation escaped, its line breaks as spaces. The UI also sets dashes
 * and ellipses typographically (`--keys-only` read `–keys-only`): escaped, they stay as written. Its quotes it
 * curls whatever is done (a backslash before a quote is shown as a backslash).
 */
export function markdownText(text: string): string {
  return text
    .replace(/[\\`*_[\]<>|#~&]/g, '\\$&')
    .replace(/-{2,}|\.{3,}/g, (run) => run.replace(/./g, '\\$&'))
    .replace(/\s*\n\s*/g, ' ');
}

/**
 * Ends a Markdown text the UI shows in a frame of its own: the UI (2.42.1) sizes that frame by the height of
 * its body, which leaves out the margins of the first and last blocks, so the last line or two were cut off.
 * An empty last paragraph (a no-break space) is what the cut takes instead.
 */
export function framedMarkdown(markdown: string): string {
  return `${markdown}\n\n\u00a0`;
}
