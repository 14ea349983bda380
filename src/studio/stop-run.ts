// Stopping a run that trains outside the studio (the CLI, `loom launch`) as Ctrl-C would: a
// SIGINT to the process that holds its run.lock, or to the launcher above it, so that every
// rank stops after its step and saves a checkpoint. A pid may be reused once its process is
// gone, so the process must have started before it wrote the lock.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { HttpError } from './http.js';

/** Linux's clock ticks a second for /proc's times (USER_HZ, 100 on every architecture Loom builds for). */
const TICKS = 100;

/** When the machine booted, in ms since the epoch. */
function bootTime(): number {
  const btime = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
  if (!btime) throw new Error('/proc/stat has no boot time');
  return Number(btime[1]) * 1000;
}

/** A process's parent and when it started (ms since the epoch), or null if there is none. */
function processInfo(pid: number): { parent: number; started: number } | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: the fields after it are counted from its end.
  const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { parent: Number(after[1]), started: bootTime() + (Number(after[19]) / TICKS) * 1000 };
}

const commandLine = (pid: number): string[] => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};

/**
 * Sends SIGINT to the writer of the run in `dir` (or its `loom launch`); says which. Refused
 * when nothing holds the lock, or when the lock's pid now names a process that started after
 * the lock was written (its writer is gone and the number was reused).
 */
export function stopOutsideRun(dir: string, name: string): string {
  const lock = path.join(dir, 'run.lock');
  let pid: number;
  let written: number;
  try {
    pid = Number(readFileSync(lock, 'utf8').trim().split(/\s/)[0]);
    written = statSync(lock).mtimeMs;
  } catch {
    throw new HttpError(409, `${name} is not training: nothing holds its lock`);
  }
  const writer = Number.isInteger(pid) && pid > 0 ? processInfo(pid) : null;
  // A second of slack: /proc's start time is in ticks, the file's time may be coarser.
  if (!writer || writer.started > written + 1000)
    throw new HttpError(409, `${name} is not training: the process that locked it has ended`);
  const launcher = commandLine(writer.parent);
  const launched = launcher.some((a) => /loom|main\.js$/.test(a)) && launcher.includes('launch');
  const target = launched ? writer.parent : pid;
  try {
    process.kill(target, 'SIGINT');
  } catch (e) {
    throw new HttpError(403, `the studio may not stop ${name}: ${(e as Error).message}`);
  }
  return launched ? `loom launch (pid ${target}) stops every rank` : `pid ${target} stops`;
}
