import { escapeControlCharacters } from '../plan/controlCharacters';

// The one place where data becomes HTML or SVG. Everything the reports write goes through the `html` tag: an
// interpolated string or number is escaped, only `Markup` (built by this tag) passes as it is. A plan name, a
// check's detail or a host's output can therefore never open a tag, an attribute or a script.

/** Not exported: only this module can make `Markup`. */
const escapedHere: unique symbol = Symbol('escaped by client/html.ts');

/** Text that is already HTML, built by `html`; nothing outside this module can make one. */
export class Markup {
  constructor(
    key: typeof escapedHere,
    readonly text: string,
  ) {
    if (key !== escapedHere) throw new TypeError('Markup is made by the html template only');
  }

  toString(): string {
    return this.text;
  }
}

const entities: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe between tags and inside quoted attributes; control characters are shown as `\xNN`. */
export function escapeHtml(text: string): string {
  return escapeControlCharacters(text).replace(/[&<>"']/g, (character) => entities[character] ?? character);
}

/** What may be interpolated: text and numbers (escaped), markup, nothing (empty), or a list of them. */
export type Interpolation = string | number | Markup | undefined | false | null | readonly Interpolation[];

function interpolate(value: Interpolation): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map((item: Interpolation) => interpolate(item)).join('');
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  return escapeHtml(value as string);
}

/** A template of trusted markup whose interpolations are data, escaped. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Markup {
  let text = strings[0] ?? '';
  values.forEach((value, i) => {
    text += interpolate(value) + (strings[i + 1] ?? '');
  });
  return new Markup(escapedHere, text);
}

/** A number for an SVG coordinate: short, and never NaN or Infinity in an attribute. */
export function coordinate(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 10) / 10) : '0';
}
