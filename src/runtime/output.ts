// Terminal output for runbooks. zx's bundled colours ignore NO_COLOR, so colour is decided here.
export interface Out {
  line(s: string): void;
  err(s: string): void;
  readonly tty: boolean;
  readonly color: boolean;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function makeOut(stream: NodeJS.WriteStream = process.stdout, errStream: NodeJS.WriteStream = process.stderr, env: NodeJS.ProcessEnv = process.env): Out {
  const tty = Boolean(stream.isTTY);
  const color = tty && env.NO_COLOR === undefined && env.TERM !== 'dumb';
  const wrap = (code: number, reset: number) => (s: string): string => (color ? `\u001b[${code}m${s}\u001b[${reset}m` : s);
  return {
    line: (s) => { stream.write(`${s}\n`); },
    err: (s) => { errStream.write(`${s}\n`); },
    tty, color,
    green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22),
  };
}

export function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n; let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
