/** Terminal colours, only on a TTY and never when NO_COLOR is set (https://no-color.org). */
const enabled = process.stdout.isTTY === true && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';

const wrap = (open: number, close: number) => (text: string) =>
  enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text;

export const style = {
  bold: wrap(1, 22),
  dim: wrap(2, 22),
  red: wrap(31, 39),
  green: wrap(32, 39),
  yellow: wrap(33, 39),
  cyan: wrap(36, 39),
};

export function outcomeColour(outcome: string | undefined): (text: string) => string {
  switch (outcome) {
    case 'passed':
      return style.green;
    case 'failed':
    case 'rollback-stuck':
      return style.red;
    default:
      return style.yellow;
  }
}
