import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quote as zxQuote } from 'zx';
import { cmd, quote } from '../../src/generator/plan/shell.js';

// migen's planner quotes for bash in the style with the fewest escapes: bare words, single quotes
// where they suffice, else zx's ANSI-C $'...' (a copy, so `migen plan` need not load zx). These
// tests hold it to zx's quote() and check what bash makes of the result.
const tricky = fc.constantFrom('', ' ', "'", '"', '\\', '$', '`', '$(id)', '${x}', '\n', '\r', '\t', '\f', '\v', '-', '--x', '*', '?', '~', '#', ';', '|', '&', '!', 'é', '日本', '\u2028');
const anyText = fc.oneof(fc.string({ unit: 'binary' }), fc.array(tricky, { maxLength: 8 }).map((a) => a.join('')), fc.string());

describe('shell quote', () => {
  it('equals zx quote() wherever single quotes do not suffice, and is single-quoted where they do', () => {
    // eslint-disable-next-line no-control-regex
    const singleQuotable = (s: string): boolean => s !== '' && !/^[\w/.\-@:=]+$/.test(s) && !/['\u0000-\u001f\u007f]/.test(s);
    fc.assert(fc.property(anyText, (s) => (singleQuotable(s) ? quote(s) === `'${s}'` : s === '' ? quote(s) === "''" : quote(s) === zxQuote(s))), { numRuns: 3000 });
  });

  it('leaves words that need no quoting alone, single-quotes plain text, and the rest as one $\'...\' word', () => {
    expect(quote('git.joshuabell.xyz')).toBe('git.joshuabell.xyz');
    expect(quote('/var/lib/forgejo')).toBe('/var/lib/forgejo');
    expect(quote('')).toBe("''");
    expect(quote('a b $(id) `x` \\ "q"')).toBe("'a b $(id) `x` \\ \"q\"'");
    expect(quote("a'b c")).toBe("$'a\\'b c'");
    expect(quote('x\ny')).toBe("$'x\\ny'");
  });

  it('bash reads every quoted value back as exactly one argument, unchanged (no NUL: bash cannot hold it)', () => {
    const samples = fc.sample(anyText.map((s) => s.replace(/\0/g, '')), { numRuns: 400, seed: 7 });
    samples.push("$(touch /tmp/migen-quote-pwned)", '`id`', "'; rm -rf / #", '${HOME}', '-n', '-e');
    const script = samples.map((s) => `printf '%s\\0' ${quote(s)}`).join('\n');
    const out = execFileSync('bash', ['-c', script], { encoding: 'buffer' });
    const back = out.toString('utf8').split('\0').slice(0, -1);
    expect(back).toEqual(samples.map((s) => Buffer.from(s, 'utf8').toString('utf8')));
  });

  it('cmd`` quotes values and keeps the literal words', () => {
    expect(cmd`rsync -a ${'/var/lib/x y/'} ${['a b', 'c']}`).toBe("rsync -a '/var/lib/x y/' 'a b' c");
  });
});
