// Processes that `loom launch` and the studio start end with them: a rank or a job whose
// starter died (SIGKILL, a crash) stops as on Ctrl-C, with a checkpoint, instead of
// training on as an orphan that nobody can see or stop.
/** The variable a starter sets on its children: its own pid, which must outlive them. */
export const PARENT_PID = 'LOOM_PARENT_PID';

/** The environment entry that ties a child to this process. */
export function tiedToMe(): Record<string, string> {
  return { [PARENT_PID]: String(process.pid) };
}

/** Whether this process was tied to a starter that is gone (it was handed to another parent). */
export function parentGone(): boolean {
  const want = Number(process.env[PARENT_PID]);
  return Number.isInteger(want) && want > 0 && process.ppid !== want;
}

/**
 * While the event loop runs, checks once a second for the starter's death and then sends
 * this process SIGTERM: a loop that watches interrupts stops at its next step, anything
 * else ends. Synchronous loops also ask parentGone() at each poll (onInterrupt).
 */
export function watchParent(): void {
  if (!process.env[PARENT_PID]) return;
  const timer = setInterval(() => {
    if (!parentGone()) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, 1000);
  timer.unref();
}
