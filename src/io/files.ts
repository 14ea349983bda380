// Reading a user's file whole, with one sentence when it cannot be read.
import { readFileSync } from 'node:fs';

export function readFileOrExplain(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}
