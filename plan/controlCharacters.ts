/* eslint-disable no-control-regex -- matching control characters is what this module is for */
// Control characters are what a terminal acts on instead of showing: ESC starts escape sequences (colours,
// cursor moves, OSC sets the window title), CR and BS overwrite what is already on the line, BEL rings. A plan,
// a report or a host's output that carries them could rewrite or hide what a person reads. Plans refuse them
// (`plan/safeValues.ts`); everything the CLI prints from data has them escaped (`client/printable.ts`).

/** C0 controls except tab and newline, DEL, and C1 controls. */
const controlCharacters = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** The same, with tab and newline too: nothing but printable characters on one line. */
const controlCharactersAndLineBreaks = /[\u0000-\u001f\u007f-\u009f]/g;

/** A pattern (for zod and the JSON Schema) of text without control characters, one line or several. */
export const withoutControlCharacters = {
  singleLine: /^[^\u0000-\u001f\u007f-\u009f]*$/,
  multiLine: /^[^\u0000-\u0008\u000b-\u001f\u007f-\u009f]*$/,
} as const;

const escaped = (character: string) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** The text with every control character written as `\xNN`; tabs and newlines are kept unless `singleLine`. */
export function escapeControlCharacters(text: string, options: { singleLine?: boolean } = {}): string {
  return text.replace(options.singleLine ? controlCharactersAndLineBreaks : controlCharacters, escaped);
}

/** The offset of the first control character that is not allowed anywhere in a plan file, or -1. */
export function firstControlCharacter(text: string): number {
  // A YAML stream may not hold them raw either (YAML 1.2, 5.1); CR ends lines like LF does.
  return text.search(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/);
}
