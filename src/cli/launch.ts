// `loom launch`: starts the ranks of a data-parallel training on this node, as torchrun does,
// with torchrun's environment variables; each rank joins the group by itself (src/distributed).
// The launcher forwards Ctrl-C once (each rank then stops with a checkpoint), and when one
// rank fails it stops the others and names the rank; with --max-restarts it then starts
// every rank again from the run's last checkpoint. Ranks are tied to the launcher
// (LOOM_PARENT_PID), so they stop with a checkpoint when it dies.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TIMEOUT_S } from '../distributed/env.js';
import { COMMON, helpText, parseOptions, type OptSpecs } from './args.js';
import { UserError } from './errors.js';
import { tiedToMe } from './parent.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

/** Ranks per core beyond which a node only thrashes (each rank also runs threads of its own). */
const RANKS_PER_CORE = 4;

const LAUNCH: OptSpecs = {
  'nproc-per-node': {
    type: 'int',
    help: `processes (ranks) to start on this node, at most ${RANKS_PER_CORE} per core`,
    default: 2,
  },
  nnodes: { type: 'int', help: 'nodes in the job', default: 1 },
  'node-rank': { type: 'int', help: "this node's place among them", default: 0 },
  'master-addr': { type: 'string', help: "the address of node 0 (rank 0's store)", default: '127.0.0.1', meta: 'HOST' },
  'master-port': { type: 'int', help: 'the port of the rendezvous on node 0', default: 29500 },
  timeout: { type: 'int', help: 'seconds a rank waits for the others before failing', default: DEFAULT_TIMEOUT_S },
  'max-restarts': {
    type: 'int',
    help: "when a rank fails, restart every rank up to N times, from the run's last checkpoint (--resume) once there is one (one node only)",
    default: 0,
  },
  'allow-oversubscribe': {
    type: 'bool',
    help: `start more than ${RANKS_PER_CORE} ranks per core on this node`,
  },
  help: COMMON.help,
};

/** Time the other ranks get to stop after one failed, before they are killed. */
const GRACE_MS = 10_000;

/** The run folder a training command writes: its --out, else the verb's default (runs/<system>). */
export function runFolderOf(command: string[]): string {
  let out: string | null = null;
  command.forEach((a, i) => {
    if (a === '--out' && i + 1 < command.length) out = command[i + 1];
    else if (a.startsWith('--out=')) out = a.slice('--out='.length);
  });
  return out ?? path.join('runs', command[0] ?? '');
}

/**
 * The command that restarts a failed run: with --resume once the run has a checkpoint of its
 * own (`checkpointed`), else the command as given (a command that resumes already keeps it).
 */
export function restartCommand(command: string[], checkpointed: boolean): string[] {
  if (command.includes('--resume') || !checkpointed) return command;
  // --force would have replaced the run; a resume continues it.
  return [...command.filter((a) => a !== '--force'), '--resume'];
}

/** A file's modification time, or null when there is none. */
function modified(file: string): number | null {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/** The step a checkpoint holds, from its safetensors header; null when it cannot be read. */
function checkpointStep(file: string): number | null {
  let fd: number | null = null;
  try {
    fd = openSync(file, 'r');
    const size = Buffer.alloc(8);
    readSync(fd, size, 0, 8, 0);
    const n = Number(size.readBigUInt64LE());
    if (!(n > 0 && n < 100_000_000)) return null;
    const header = Buffer.alloc(n);
    readSync(fd, header, 0, n, 8);
    const step = Number(JSON.parse(header.toString('utf8')).__metadata__?.step);
    return Number.isInteger(step) ? step : null;
  } catch {
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

interface Rank {
  rank: number;
  child: ChildProcess;
  /** Set once the launcher itself signalled it (its death then says nothing about the run). */
  stopped: boolean;
}

export async function launchCommand(args: string[]): Promise<void> {
  const cut = args.indexOf('--');
  const { values: o, positionals } = parseOptions(cut < 0 ? args : args.slice(0, cut), LAUNCH);
  if (o.help) {
    return void console.log(
      helpText(
        'loom launch [options] -- <loom training command>',
        'Runs a training command data-parallel: one process per rank, gradients averaged with c10d (Gloo). --batch is per process. Ranks stop with a checkpoint when the launcher dies.',
        LAUNCH,
      ),
    );
  }
  const command = cut < 0 ? positionals : args.slice(cut + 1);
  if (cut < 0 || command.length === 0) {
    throw new UserError(
      'give the training command after --, e.g. loom launch --nproc-per-node 2 -- text train --out runs/t',
    );
  }
  if (command[0] === 'loom') command.shift();
  const perNode = o.nprocPerNode as number;
  const nodes = o.nnodes as number;
  const restarts = o.maxRestarts as number;
  if (!(perNode >= 1)) throw new UserError(`--nproc-per-node must be at least 1, got ${perNode}`);
  const cores = availableParallelism();
  if (perNode > RANKS_PER_CORE * cores && !o.allowOversubscribe)
    throw new UserError(
      `--nproc-per-node ${perNode} is more than ${RANKS_PER_CORE} ranks per core on this machine's ${cores} cores (at most ${RANKS_PER_CORE * cores}); pass --allow-oversubscribe to start them anyway`,
    );
  if (!(nodes >= 1)) throw new UserError(`--nnodes must be at least 1, got ${nodes}`);
  if (!(o.nodeRank >= 0 && o.nodeRank < nodes))
    throw new UserError(`--node-rank must be in 0..${nodes - 1}, got ${o.nodeRank}`);
  if (!(o.masterPort >= 1 && o.masterPort <= 65535))
    throw new UserError(`--master-port must be in 1..65535, got ${o.masterPort}`);
  if (!(o.timeout >= 1)) throw new UserError(`--timeout must be at least 1 second, got ${o.timeout}`);
  if (!(restarts >= 0)) throw new UserError(`--max-restarts must be at least 0, got ${restarts}`);
  // Each node's launcher sees only its own ranks, so the nodes would not restart together.
  if (restarts > 0 && nodes > 1)
    throw new UserError(
      '--max-restarts works on one node only (--nnodes 1): the launchers of several nodes cannot agree when to restart',
    );
  const world = perNode * nodes;
  const first = o.nodeRank * perNode;

  // A restart resumes from a checkpoint only when this launch wrote it, not one left before.
  const checkpoint = path.join(runFolderOf(command), 'checkpoint.safetensors');
  const before = modified(checkpoint);

  // Ranks of the attempt in progress. Signals are handled before the first rank starts, so a
  // Ctrl-C or SIGTERM during start-up reaches every rank started so far and starts no more.
  let ranks: Rank[] = [];
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('loom launch: stopping every rank after its current step (Ctrl-C again to kill them)\n');
      for (const r of ranks) r.child.kill(signal);
    } else {
      for (const r of ranks) r.child.kill('SIGKILL');
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    let argv = command;
    for (let attempt = 0; ; attempt++) {
      const span = perNode === 1 ? `rank ${first}` : `ranks ${first}..${first + perNode - 1}`;
      process.stderr.write(`loom launch: starting ${span} of ${world} on this node\n`);
      ranks = [];
      const failed = await runRanks(argv, o, { perNode, world, first }, ranks, () => interrupts > 0);
      if (interrupts >= 2) process.exit(130);
      if (!failed) return;
      if (interrupts > 0 || attempt >= restarts) throw new Error(`the distributed run failed: ${failed}`);
      const now = modified(checkpoint);
      const checkpointed = command.includes('--resume') || (now !== null && now !== before);
      argv = restartCommand(command, checkpointed);
      const step = checkpointed ? checkpointStep(checkpoint) : null;
      const from = !checkpointed
        ? 'from the start (the run has no checkpoint yet)'
        : step === null
          ? "from the run's last checkpoint"
          : `from the checkpoint at step ${step}`;
      process.stderr.write(
        `loom launch: ${failed}; restarting every rank ${from} (restart ${attempt + 1} of ${restarts})\n`,
      );
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Starts one attempt's ranks into `ranks` and waits for all of them to end. Resolves with
 * what failed, naming the rank ("rank 1 was killed by SIGKILL"), or null when all succeeded.
 */
async function runRanks(
  command: string[],
  o: Record<string, any>,
  shape: { perNode: number; world: number; first: number },
  ranks: Rank[],
  interrupted: () => boolean,
): Promise<string | null> {
  const exits: Promise<void>[] = [];
  const failures: { what: string; signalled: boolean }[] = [];
  let killer: NodeJS.Timeout | null = null;
  const running = () => ranks.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
  // After a Ctrl-C the others are stopping already: another signal would count as a second
  // one and cut short their checkpoint, so they only get the grace period.
  const stopOthers = () => {
    for (const r of running()) {
      r.stopped = true;
      if (!interrupted()) r.child.kill('SIGTERM');
    }
    killer = setTimeout(() => {
      for (const r of running()) r.child.kill('SIGKILL');
    }, GRACE_MS);
  };
  for (let local = 0; local < shape.perNode && !interrupted() && !failures.length; local++) {
    const rank = shape.first + local;
    const env = {
      ...process.env,
      ...tiedToMe(),
      RANK: String(rank),
      LOCAL_RANK: String(local),
      WORLD_SIZE: String(shape.world),
      LOCAL_WORLD_SIZE: String(shape.perNode),
      GROUP_RANK: String(o.nodeRank),
      MASTER_ADDR: o.masterAddr,
      MASTER_PORT: String(o.masterPort),
      LOOM_DIST_TIMEOUT: String(o.timeout),
      // c10d logs through glog; its warnings repeat what the rank's one sentence says.
      GLOG_minloglevel: process.env.GLOG_minloglevel ?? '3',
    };
    // Rank 0 speaks for the job; the others' progress would repeat it, their errors do not.
    // Each rank has its own process group, so a terminal's Ctrl-C reaches only the launcher.
    const child = spawn(process.execPath, [CLI, ...command], {
      env,
      detached: true,
      stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', rank === 0 ? 'inherit' : 'pipe'],
    });
    // Whole lines, however the pipe splits them.
    if (child.stderr) {
      createInterface({ input: child.stderr }).on('line', (line) => {
        if (line.trim()) process.stderr.write(`[rank ${rank}] ${line}\n`);
      });
    }
    const r: Rank = { rank, child, stopped: false };
    ranks.push(r);
    exits.push(
      new Promise<void>((resolve) => {
        child.on('exit', (code, signal) => {
          if ((code !== 0 || signal) && !r.stopped) {
            failures.push({
              what: `rank ${rank} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`,
              signalled: signal !== null,
            });
            if (failures.length === 1) stopOthers();
          }
          resolve();
        });
      }),
    );
    // Lets a signal's handler run between starts.
    await new Promise((resolve) => setImmediate(resolve));
  }
  // Stopped before every rank started: the group can never form, so no rank has trained yet
  // and the ones waiting for it need not wait out the rendezvous timeout.
  if (ranks.length < shape.perNode) {
    for (const r of running()) {
      r.stopped = true;
      r.child.kill('SIGKILL');
    }
  }
  await Promise.all(exits);
  if (killer) clearTimeout(killer);
  // The rank that died by a signal caused the others' failures ("another rank is gone"),
  // whichever exit the launcher saw first.
  const cause = failures.find((f) => f.signalled) ?? failures[0];
  return cause?.what ?? null;
}
