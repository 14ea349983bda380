// A minimal ZIP reader (stored and deflated entries), enough for torch.save archives.
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  read(): Buffer;
}

/** Lists a ZIP archive's entries; `what` names the source in error messages. */
export function readZip(buf: Buffer, what: string): Map<string, ZipEntry> {
  const bad = (why: string) => new Error(`${what} is not a readable ZIP archive: ${why}`);
  // The end-of-central-directory record sits in the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad('no end-of-central-directory record (truncated, or not a ZIP file)');
  let count = buf.readUInt16LE(eocd + 10);
  let cdOffset = buf.readUInt32LE(eocd + 16);
  // ZIP64: the real values live in the zip64 end record that the locator points to.
  if ((cdOffset === 0xffffffff || count === 0xffff) && eocd >= 20 && buf.readUInt32LE(eocd - 20) === 0x07064b50) {
    const z64 = Number(buf.readBigUInt64LE(eocd - 20 + 8));
    count = Number(buf.readBigUInt64LE(z64 + 32));
    cdOffset = Number(buf.readBigUInt64LE(z64 + 48));
  }
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw bad('a damaged central directory');
    const method = buf.readUInt16LE(p + 10);
    let compSize = buf.readUInt32LE(p + 20);
    let size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    let local = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString('utf8');
    // ZIP64 extra field: 64-bit sizes and offset, in this order, for the fields that overflowed.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = buf.readUInt16LE(e);
      const len = buf.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (size === 0xffffffff) {
          size = Number(buf.readBigUInt64LE(q));
          q += 8;
        }
        if (compSize === 0xffffffff) {
          compSize = Number(buf.readBigUInt64LE(q));
          q += 8;
        }
        if (local === 0xffffffff) local = Number(buf.readBigUInt64LE(q));
      }
      e += 4 + len;
    }
    p = eEnd + commentLen;
    const l = local;
    const cs = compSize;
    entries.set(name, {
      name,
      read: () => {
        if (l + 30 > buf.length || buf.readUInt32LE(l) !== 0x04034b50) throw bad(`entry ${name} has no local header`);
        const start = l + 30 + buf.readUInt16LE(l + 26) + buf.readUInt16LE(l + 28);
        if (start + cs > buf.length) throw bad(`entry ${name} is cut short (truncated file)`);
        const raw = buf.subarray(start, start + cs);
        if (method === 0) return raw;
        if (method === 8) return inflateRawSync(raw);
        throw bad(`entry ${name} uses compression method ${method}`);
      },
    });
  }
  return entries;
}
