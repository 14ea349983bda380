// A small pickle reader (protocols 2-5) for PyTorch checkpoints. It builds plain data and
// never runs code: globals become descriptions that the caller interprets.

export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get fullName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** The result of calling a global the reader does not know: kept as data. */
export class PickleCall {
  state: unknown = undefined;
  constructor(
    readonly fn: PickleGlobal,
    readonly args: unknown[],
  ) {}
}

export interface PickleHooks {
  /** Turns a persistent id (torch: ('storage', type, key, location, numel)) into a value. */
  persistentLoad(pid: unknown): unknown;
  /** Calls a global with args, or returns undefined to keep it as a PickleCall. */
  call?(fn: PickleGlobal, args: unknown[]): unknown;
}

const MARK = Symbol('mark');

export function unpickle(buf: Buffer, hooks: PickleHooks, what = 'the pickle'): unknown {
  const bad = (why: string) => new Error(`${what} cannot be read: ${why}`);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > buf.length) throw bad('it ends early (truncated file)');
  };
  const u8 = () => (need(1), buf[p++]);
  const u16 = () => (need(2), (p += 2), buf.readUInt16LE(p - 2));
  const u32 = () => (need(4), (p += 4), buf.readUInt32LE(p - 4));
  const i32 = () => (need(4), (p += 4), buf.readInt32LE(p - 4));
  const bytes = (n: number) => (need(n), (p += n), buf.subarray(p - n, p));
  const popMark = (): unknown[] => {
    const items: unknown[] = [];
    for (;;) {
      if (stack.length === 0) throw bad('MARK missing');
      const v = stack.pop();
      if (v === MARK) return items.reverse();
      items.push(v);
    }
  };
  const top = () => stack[stack.length - 1];
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (!(fn instanceof PickleGlobal)) throw bad('a call to something that is not a global');
    if (fn.fullName === 'collections.OrderedDict' || fn.fullName === 'builtins.dict') return new Map();
    const r = hooks.call?.(fn, args);
    return r === undefined ? new PickleCall(fn, args) : r;
  };
  const setItems = (target: unknown, kv: unknown[]) => {
    for (let i = 0; i + 1 < kv.length; i += 2) {
      if (target instanceof Map) target.set(kv[i], kv[i + 1]);
      else if (target && typeof target === 'object') (target as Record<string, unknown>)[String(kv[i])] = kv[i + 1];
      else throw bad('SETITEM on something that is not a dict');
    }
  };
  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80:
        u8();
        break; // PROTO
      case 0x95:
        bytes(8);
        break; // FRAME
      case 0x2e:
        return stack.pop(); // STOP
      case 0x28:
        stack.push(MARK);
        break;
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x8a: {
        // LONG1
        const n = u8();
        const b = bytes(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
        if (n > 0 && b[n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v));
        break;
      }
      case 0x47:
        need(8);
        stack.push(buf.readDoubleBE(p));
        p += 8;
        break; // BINFLOAT
      case 0x58:
        stack.push(bytes(u32()).toString('utf8'));
        break; // BINUNICODE
      case 0x8c:
        stack.push(bytes(u8()).toString('utf8'));
        break; // SHORT_BINUNICODE
      case 0x8d: {
        const n = Number(buf.readBigUInt64LE((need(8), p)));
        p += 8;
        stack.push(bytes(n).toString('utf8'));
        break;
      }
      case 0x55:
        stack.push(bytes(u8()).toString('latin1'));
        break; // SHORT_BINSTRING
      case 0x54:
        stack.push(bytes(u32()).toString('latin1'));
        break; // BINSTRING
      case 0x43:
        stack.push(Buffer.from(bytes(u8())));
        break; // SHORT_BINBYTES
      case 0x42:
        stack.push(Buffer.from(bytes(u32())));
        break; // BINBYTES
      case 0x63: {
        // GLOBAL "module\nname\n"
        const end1 = buf.indexOf(0x0a, p);
        const end2 = buf.indexOf(0x0a, end1 + 1);
        if (end1 < 0 || end2 < 0) throw bad('a broken GLOBAL');
        stack.push(new PickleGlobal(buf.toString('utf8', p, end1), buf.toString('utf8', end1 + 1, end2)));
        p = end2 + 1;
        break;
      }
      case 0x93: {
        const name = stack.pop() as string;
        const mod = stack.pop() as string;
        stack.push(new PickleGlobal(mod, name));
        break;
      }
      case 0x85:
        stack.push([stack.pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = stack.pop();
        const a = stack.pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        const c = stack.pop();
        const b = stack.pop();
        const a = stack.pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x74:
        stack.push(popMark());
        break; // TUPLE
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x64: {
        const m = new Map();
        setItems(m, popMark());
        stack.push(m);
        break;
      } // DICT
      case 0x61: {
        const v = stack.pop();
        (top() as unknown[]).push(v);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        (top() as unknown[]).push(...items);
        break;
      } // APPENDS
      case 0x73: {
        const v = stack.pop();
        const k = stack.pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const kv = popMark();
        setItems(top(), kv);
        break;
      } // SETITEMS
      case 0x52: {
        const args = stack.pop() as unknown[];
        const fn = stack.pop();
        stack.push(call(fn, args));
        break;
      } // REDUCE
      case 0x81: {
        const args = stack.pop() as unknown[];
        const cls = stack.pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ
      case 0x62: {
        const state = stack.pop();
        const obj = top();
        if (obj instanceof PickleCall) obj.state = state;
        break;
      } // BUILD
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
        stack.push(memo.get(u8()));
        break; // BINGET
      case 0x6a:
        stack.push(memo.get(u32()));
        break; // LONG_BINGET
      case 0x51:
        stack.push(hooks.persistentLoad(stack.pop()));
        break; // BINPERSID
      case 0x30:
        stack.pop();
        break; // POP
      case 0x32:
        stack.push(top());
        break; // DUP
      default:
        throw bad(`unsupported pickle opcode 0x${op.toString(16)} at byte ${p - 1}`);
    }
  }
}
