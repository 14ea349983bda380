// Reading a user's file whole, making folders and checking output files, with one
// sentence when it cannot be done.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export function readFileOrExplain(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      { cause: e },
    );
  }
}

/**
 * Makes a folder and its parents, one level at a time: Node's recursive mkdir loops
 * forever where a parent cannot hold folders (under /proc). One sentence when it fails.
 */
export function makeFolder(dir: string): void {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let d = abs; !existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(d).isDirectory()) continue;
      throw new Error(`cannot create the folder ${dir} (${code ?? (e as Error).message})`, { cause: e });
    }
  }
  if (!statSync(abs).isDirectory()) throw new Error(`${dir} is a file, not a folder`);
}

/**
 * Checks, before any work, that `file` can be written: an existing file is replaced only
 * with --force, and a missing folder is made now rather than found missing at the end.
 */
export function prepareOutputFile(file: string, force: boolean | undefined): void {
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) throw new Error(`--out ${file} is a folder; give a file name`);
    if (!force) throw new Error(`${file} exists; choose another --out or add --force`);
  }
  makeFolder(path.dirname(path.resolve(file)));
}
