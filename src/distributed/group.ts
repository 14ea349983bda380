// Data-parallel training's process group, on libtorch's own c10d: a TCPStore rendezvous at
// MASTER_ADDR:MASTER_PORT and Gloo's collectives. A process joins when torchrun's variables
// say it is one rank of several (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR, MASTER_PORT), so `loom launch`, torchrun or a cluster scheduler can start it.
import * as T from '../torch/index.js';
import { Tensor } from '../torch/index.js';
import net from 'node:net';
import { native, type GroupHandle, type ReducerHandle } from '../torch/native.js';
import type { GradientSync } from '../optim/index.js';
import type { DistEnv } from './env.js';

/** DDP's bucket sizes: 25 MB, the first 1 MB so the last layers' gradients leave early. */
const BUCKET_BYTES = 25 * 2 ** 20;
const FIRST_BUCKET_BYTES = 2 ** 20;

export class ProcessGroup implements Disposable {
  private constructor(
    private handle: GroupHandle | null,
    readonly env: DistEnv,
    /** Seconds a collective waits for the others (the join's). */
    private readonly timeoutS: number,
  ) {}

  /** Joins the group (every rank must call this); one sentence if the ranks cannot meet. */
  static join(env: DistEnv, timeoutS = env.timeoutS): ProcessGroup {
    if (!native.distInit) {
      throw new Error(
        "this Loom was built without Gloo, so it cannot train on several processes; install Gloo's headers (Debian: libgloo-dev) and run `npm install` again",
      );
    }
    try {
      const handle = native.distInit(env.rank, env.world, env.masterAddr, env.masterPort, timeoutS * 1000);
      return new ProcessGroup(handle, env, timeoutS);
    } catch (e) {
      const message = (e as Error).message;
      const where = `${env.masterAddr}:${env.masterPort}`;
      // 1.13 says "Address already in use", 2.x "EADDRINUSE, message: address already in use".
      if (/address already in use/i.test(message)) {
        throw new Error(`port ${env.masterPort} is already in use on this machine; choose another --master-port`, {
          cause: e,
        });
      }
      const why = withoutSource(message.split('\n')[0]).slice(0, 200);
      throw new Error(
        `rank ${env.rank} of ${env.world} could not join the group at ${where} within ${timeoutS} s (${why})`,
        { cause: e },
      );
    }
  }

  get rank(): number {
    return this.env.rank;
  }
  get world(): number {
    return this.env.world;
  }
  /** Rank 0 writes the run's files; the others compute alongside it. */
  get isMain(): boolean {
    return this.env.rank === 0;
  }

  private live(): GroupHandle {
    if (!this.handle) throw new Error('the process group is closed');
    return this.handle;
  }

  /** In place, on every rank at once. */
  allReduce(t: Tensor, op: 'sum' | 'max' | 'min' = 'sum'): void {
    this.collective(() => native.distAllReduce!(this.live(), t.h, op));
  }
  /** Every rank's tensor becomes rank `root`'s, in place. */
  broadcast(t: Tensor, root = 0): void {
    this.collective(() => native.distBroadcast!(this.live(), t.h, root));
  }
  barrier(): void {
    this.collective(() => native.distBarrier!(this.live()));
  }

  /** Milliseconds spent in collectives so far (waiting for the other ranks included). */
  collectiveMs = 0;

  /**
   * A collective that fails says in one sentence which rank saw it and why: another rank's
   * process is gone (its sockets closed), or the others did not answer in time. Gloo's own
   * text stays in the error's cause.
   */
  private collective(f: () => void): void {
    const t0 = performance.now();
    try {
      f();
      this.collectiveMs += performance.now() - t0;
    } catch (e) {
      const why = /timed? ?out/i.test((e as Error).message)
        ? `the other ranks did not answer within ${this.timeoutS} s`
        : 'another rank of the group is gone';
      throw new Error(`rank ${this.rank} stopped: ${why}`, { cause: e });
    }
  }

  /** Parameters and buffers become rank 0's, so every rank starts from the same weights. */
  broadcastTensors(ts: Iterable<Tensor>): void {
    T.noGrad(() => {
      for (const t of ts) this.broadcast(t, 0);
    });
  }

  /**
   * The backward pass for one optimizer's parameters in this group. Where the addon has c10d's
   * Reducer (libtorch 2.x), gradient buckets are all-reduced while the pass goes on, as DDP
   * does; otherwise, or with LOOM_DDP_REDUCER=0, the gradients are averaged after it in one
   * bucket (averageGradients).
   */
  gradientSync(): GradientSync {
    const afterBackward: GradientSync = { backward: (loss, ps) => (loss.backward(), this.averageGradients(ps)) };
    if (!this.overlapsBackward) {
      this.averagedAfter++;
      return afterBackward;
    }
    // The Reducer needs every parameter to get a gradient in every pass: the first pass is
    // averaged after the backward, and only where every rank saw every parameter get a
    // gradient (the ranks agree, so their collectives stay the same) does a Reducer take over.
    let sync: GradientSync | null = null;
    return {
      backward: (loss, ps) => {
        if (sync) return sync.backward(loss, ps);
        loss.backward();
        const complete = ps.every((p) => p.requiresGrad && p.grad !== null);
        this.averageGradients(ps);
        const everywhere = !this.any(!complete);
        sync = everywhere ? this.reducerSync(ps) : afterBackward;
        if (!everywhere) this.averagedAfter++;
      },
    };
  }

  /** What the gradient syncs do now, for the log: where the Reducer took over, and where not. */
  get gradientPath(): string {
    const during = this.reducers.length;
    if (during === 0) return 'averaged after backward';
    if (this.averagedAfter === 0) return 'all-reduced during backward';
    return `all-reduced during backward for ${during} of ${during + this.averagedAfter} optimizers`;
  }
  private averagedAfter = 0;

  private reducerSync(params: Tensor[]): GradientSync {
    const reducer = native.distReducer!(
      this.live(),
      params.map((p) => p.h),
      BUCKET_BYTES,
      FIRST_BUCKET_BYTES,
    );
    this.reducers.push(reducer);
    // Re-bucketing before a pass and the pass itself wait on collectives: a failed one is
    // the group's failure, told as every collective's is.
    const asGroup = (f: () => void) => {
      try {
        f();
      } catch (e) {
        const message = (e as Error).message;
        if (/finished reduction in the prior iteration/.test(message)) {
          throw new Error(
            'a parameter got no gradient in a backward pass, which the gradient reducer cannot average; run with LOOM_DDP_REDUCER=0',
            { cause: e },
          );
        }
        if (!/gloo|connection|peer|timed? ?out/i.test(message)) throw e;
        this.collective(() => {
          throw e;
        });
      }
    };
    return {
      backward: (loss) => {
        asGroup(() => native.distReducerPrepare!(reducer, loss.h));
        asGroup(() => loss.backward());
      },
    };
  }
  private readonly reducers: ReducerHandle[] = [];

  /** Whether gradients are all-reduced during the backward pass (the Reducer) or after it. */
  get overlapsBackward(): boolean {
    return !!native.distReducer && process.env.LOOM_DDP_REDUCER !== '0';
  }

  /**
   * Replaces each parameter's gradient by its mean over the ranks: the gradients go into one
   * flat bucket, one all-reduce, and back (a parameter without a gradient counts as zeros).
   */
  averageGradients(params: Tensor[]): void {
    T.noGrad(() =>
      T.tidy(() => {
        const grads = params.map((p) => p.grad ?? T.zerosLike(p));
        const bucket = T.cat(
          grads.map((g) => g.reshape([-1])),
          0,
        );
        this.allReduce(bucket, 'sum');
        bucket.div_(this.world);
        let offset = 0;
        params.forEach((p, i) => {
          const n = grads[i].numel;
          p.grad = bucket.narrow(0, offset, n).reshape(p.shape).clone();
          offset += n;
        });
      }),
    );
  }

  /** Each number's mean over the ranks (losses for the log). */
  mean(values: number[]): number[] {
    if (!values.length) return values;
    return T.tidy(() => {
      const t = T.tensor(Float64Array.from(values));
      this.allReduce(t, 'sum');
      return Array.from(t.div(this.world).toFlatArray() as ArrayLike<number>);
    });
  }

  /** Every rank's value, in rank order, on every rank (a sum of one-hot vectors). */
  gather(value: number): number[] {
    return T.tidy(() => {
      const own = new Float64Array(this.world);
      own[this.rank] = value;
      const t = T.tensor(own);
      this.allReduce(t, 'sum');
      return Array.from(t.toFlatArray() as ArrayLike<number>);
    });
  }

  /** True on every rank when it is true on any (a stop asked for on one rank stops all). */
  any(flag: boolean): boolean {
    return T.tidy(() => {
      const t = T.tensor([flag ? 1 : 0]);
      this.allReduce(t, 'max');
      return t.item() > 0;
    });
  }

  /** Leaves the group; safe to call twice. */
  dispose(): void {
    for (const r of this.reducers.splice(0)) native.distReducerClose!(r);
    if (this.handle) native.distClose!(this.handle);
    this.handle = null;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** A C++ message without the source location that c10d and Gloo put in front ("[pair.cc:598] "). */
export function withoutSource(message: string): string {
  return message.replace(/\[[^\]\s]*\.(?:cc|cpp|h|hpp):\d+\]\s*/g, '').trim();
}

/** A loopback port that nothing listens on now (for a rendezvous on one machine). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
