// Reading a user's file whole, making folders, checking output files and replacing files
// whole or not at all, with one sentence when it cannot be done.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
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
 * with --force, a missing folder is made now, and a folder that cannot take files (read-only,
 * /proc) is found now rather than at the end of the work.
 */
export function prepareOutputFile(file: string, force: boolean | undefined): void {
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) throw new Error(`--out ${file} is a folder; give a file name`);
    if (!force) throw new Error(`${file} exists; choose another --out or add --force`);
  }
  makeFolder(path.dirname(path.resolve(file)));
  removeStaleTemporaries(path.dirname(path.resolve(file)), (name) => name === path.basename(file));
  probeWrite(path.resolve(file), file);
}

/** Makes an output folder and checks, before any work, that it can take files. */
export function prepareOutputFolder(dir: string): void {
  makeFolder(dir);
  probeWrite(path.join(dir, '.loom-probe'), dir);
}

/** Creates and removes `<file>.tmp-<pid>`: the folder takes files, or one sentence naming `what`. */
function probeWrite(file: string, what: string): void {
  const probe = `${file}${TMP}${process.pid}`;
  try {
    closeSync(openSync(probe, 'wx'));
    unlinkSync(probe);
  } catch (e) {
    throw new Error(`cannot write ${what}: ${reason(e)}`, { cause: e });
  }
}

/** What a temporary file beside its target is named by: `<target>.tmp-<pid>`. */
const TMP = '.tmp-';

/** A write error in the user's words. */
function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk is full';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'the disk is read-only';
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'its folder cannot hold files';
  return code ? `${code} (${(e as Error).message.replace(/^\w+: /, '')})` : (e as Error).message;
}

/** Writes all of `bytes` at the file's current position: write(2) may write fewer than asked. */
export function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) {
    const n = writeSync(fd, bytes, done, bytes.length - done);
    // A write that makes no progress is a full disk that did not say so.
    if (n <= 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    done += n;
  }
}

/** Whether a process with this pid is alive (one we may not signal is alive too). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files (`<name>.tmp-<pid>`) that killed writers of the files `ours`
 * names left in `dir`. Called once where a command starts writing (an output file, a run
 * folder), not per write: a folder of thousands of samples would be read again per image.
 */
export function removeStaleTemporaries(dir: string, ours: (name: string) => boolean): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const at = n.lastIndexOf(TMP);
    if (at <= 0 || !ours(n.slice(0, at))) continue;
    const pid = Number(n.slice(at + TMP.length));
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) {
      try {
        unlinkSync(path.join(dir, n));
      } catch {
        // another process removed it first
      }
    }
  }
}

/**
 * Replaces `file` whole or not at all: the bytes go to a temporary file beside it, every byte
 * is checked written and synced to the disk, and only then is it renamed over the target. On a
 * full disk (or any failure) the old file stays as it was and the error is one sentence.
 */
export function writeFileAtomic(file: string, bytes: Uint8Array | string): void {
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const tmp = `${file}${TMP}${process.pid}`;
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    writeAll(fd, data);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // not made, or already gone
    }
    const kept = existsSync(file) ? 'the previous file is unchanged' : 'nothing was written';
    throw new Error(`cannot write ${file}: ${reason(e)}; ${kept}`, { cause: e });
  }
  syncFolder(path.dirname(file));
}

/** Syncs a folder, so a rename in it survives a power cut; where folders cannot be synced, nothing. */
function syncFolder(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not every filesystem syncs folders
  }
}

/** Appends text to a file; a full disk is one sentence (a short append leaves a cut line, which readers skip). */
export function appendText(file: string, text: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'a');
    writeAll(fd, Buffer.from(text));
  } catch (e) {
    throw new Error(`cannot write ${file}: ${reason(e)}`, { cause: e });
  } finally {
    if (fd !== null) closeSync(fd);
  }
}
