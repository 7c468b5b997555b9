import { escapeControlCharacters } from '../plan/controlCharacters';

// The one place where data becomes HTML or SVG. Everything the reports write goes through the `html` tag: an
// interpolated string or number is escaped, only `Markup` (built by this tag) passes as it is. A plan name, a
// check's detail or a host's output can therefore never open a tag, an attribute or a script.

/** Text that is already HTML, built by `html`; nothing else can make one. */
export class Markup {
  private constructor(readonly text: string) {}

  /** @internal Only `html` and `joined` call this, with escaped text. */
  static fromEscaped(text: string): Markup {
    return new Markup(text);
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
  return Markup.fromEscaped(text);
}

/** A number for an SVG coordinate: short, and never NaN or Infinity in an attribute. */
export function coordinate(value: number): string {
  return Number.isFinite(value) ? String(Math.round(value * 10) / 10) : '0';
}
