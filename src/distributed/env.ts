// A rank's place from torchrun's environment variables. Apart from the process group, so that
// `loom launch` reads the defaults without loading libtorch.

export interface DistEnv {
  rank: number;
  world: number;
  localRank: number;
  localWorld: number;
  masterAddr: string;
  masterPort: number;
  /** Seconds a collective waits for the other ranks (LOOM_DIST_TIMEOUT; `loom launch --timeout`). */
  timeoutS: number;
}

/** How long a collective waits for the other ranks before it fails (LOOM_DIST_TIMEOUT, seconds). */
export const DEFAULT_TIMEOUT_S = 60;

function whole(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (v === undefined || v.trim() === '' || !Number.isInteger(n) || n < min) {
    throw new Error(`the environment variable ${name} must be a whole number >= ${min}, got '${v ?? ''}'`);
  }
  return n;
}

/** The rank's place from torchrun's environment variables; null for a single process. */
export function distEnv(env: NodeJS.ProcessEnv = process.env): DistEnv | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '1') return null;
  const world = whole('WORLD_SIZE', env.WORLD_SIZE, 1);
  const rank = whole('RANK', env.RANK, 0);
  if (rank >= world) throw new Error(`RANK is ${rank}, but WORLD_SIZE is ${world}: ranks go from 0 to ${world - 1}`);
  return {
    rank,
    world,
    localRank: env.LOCAL_RANK === undefined ? rank : whole('LOCAL_RANK', env.LOCAL_RANK, 0),
    localWorld: env.LOCAL_WORLD_SIZE === undefined ? world : whole('LOCAL_WORLD_SIZE', env.LOCAL_WORLD_SIZE, 1),
    masterAddr: env.MASTER_ADDR ?? '127.0.0.1',
    masterPort: whole('MASTER_PORT', env.MASTER_PORT ?? '29500', 1),
    timeoutS:
      env.LOOM_DIST_TIMEOUT === undefined ? DEFAULT_TIMEOUT_S : whole('LOOM_DIST_TIMEOUT', env.LOOM_DIST_TIMEOUT, 1),
  };
}
