// `loom launch`: starts the ranks of a data-parallel training on this node, as torchrun does,
// with torchrun's environment variables; each rank joins the group by itself (src/distributed).
// The launcher forwards Ctrl-C once (each rank then stops with a checkpoint), and when one
// rank fails it stops the others and names the rank.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TIMEOUT_S } from '../distributed/index.js';
import { COMMON, helpText, parseOptions, type OptSpecs } from './args.js';
import { UserError } from './errors.js';

const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

const LAUNCH: OptSpecs = {
  'nproc-per-node': { type: 'int', help: 'processes (ranks) to start on this node', default: 2 },
  nnodes: { type: 'int', help: 'nodes in the job', default: 1 },
  'node-rank': { type: 'int', help: "this node's place among them", default: 0 },
  'master-addr': { type: 'string', help: "the address of node 0 (rank 0's store)", default: '127.0.0.1', meta: 'HOST' },
  'master-port': { type: 'int', help: 'the port of the rendezvous on node 0', default: 29500 },
  timeout: { type: 'int', help: 'seconds a rank waits for the others before failing', default: DEFAULT_TIMEOUT_S },
  help: COMMON.help,
};

/** Time the other ranks get to stop after one failed, before they are killed. */
const GRACE_MS = 10_000;

export async function launchCommand(args: string[]): Promise<void> {
  const cut = args.indexOf('--');
  const { values: o, positionals } = parseOptions(cut < 0 ? args : args.slice(0, cut), LAUNCH);
  if (o.help) {
    return void console.log(
      helpText(
        'loom launch [options] -- <loom training command>',
        'Runs a training command data-parallel: one process per rank, gradients averaged with c10d (Gloo). --batch is per process.',
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
  if (!(perNode >= 1)) throw new UserError(`--nproc-per-node must be at least 1, got ${perNode}`);
  if (!(nodes >= 1)) throw new UserError(`--nnodes must be at least 1, got ${nodes}`);
  if (!(o.nodeRank >= 0 && o.nodeRank < nodes))
    throw new UserError(`--node-rank must be in 0..${nodes - 1}, got ${o.nodeRank}`);
  if (!(o.masterPort >= 1 && o.masterPort <= 65535))
    throw new UserError(`--master-port must be in 1..65535, got ${o.masterPort}`);
  if (!(o.timeout >= 1)) throw new UserError(`--timeout must be at least 1 second, got ${o.timeout}`);
  const world = perNode * nodes;

  const ranks: { rank: number; child: ChildProcess }[] = [];
  for (let local = 0; local < perNode; local++) {
    const rank = o.nodeRank * perNode + local;
    const env = {
      ...process.env,
      RANK: String(rank),
      LOCAL_RANK: String(local),
      WORLD_SIZE: String(world),
      LOCAL_WORLD_SIZE: String(perNode),
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
    ranks.push({ rank, child });
  }

  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('loom launch: stopping every rank after its current step (Ctrl-C again to kill them)\n');
      for (const { child } of ranks) child.kill(signal);
    } else {
      for (const { child } of ranks) child.kill('SIGKILL');
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const running = () => ranks.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
  let failed: string | null = null;
  let killer: NodeJS.Timeout | null = null;
  await Promise.all(
    ranks.map(
      ({ rank, child }) =>
        new Promise<void>((resolve) => {
          child.on('exit', (code, signal) => {
            if ((code !== 0 || signal) && failed === null && interrupts < 2) {
              failed = `rank ${rank} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`;
              process.stderr.write(`loom launch: ${failed}; stopping the other ranks\n`);
              for (const r of running()) r.child.kill('SIGTERM');
              killer = setTimeout(() => {
                for (const r of running()) r.child.kill('SIGKILL');
              }, GRACE_MS);
            }
            resolve();
          });
        }),
    ),
  );
  if (killer) clearTimeout(killer);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (interrupts >= 2) process.exit(130);
  if (failed) throw new Error(`the distributed run failed: ${failed}`);
}
