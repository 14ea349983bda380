// Built-in photos and a painting from Debian's darknet package (scripts/setup.sh installs it),
// so dream and style run with no files of the user's.
import { existsSync } from 'node:fs';
import path from 'node:path';

const DARKNET = '/usr/share/darknet/data';
export const BUILTIN_IMAGES = ['dog', 'eagle', 'giraffe', 'horses', 'kite', 'person', 'scream'];

/** "builtin:scream" → its file; anything else is returned as given. */
export function resolveImage(spec: string): string {
  if (!spec.startsWith('builtin:')) return spec;
  const name = spec.slice('builtin:'.length);
  if (!BUILTIN_IMAGES.includes(name))
    throw new Error(
      `no built-in image "${name}"; built-in images: ${BUILTIN_IMAGES.map((n) => `builtin:${n}`).join(', ')}`,
    );
  const file = path.join(DARKNET, `${name}.jpg`);
  if (!existsSync(file))
    throw new Error(
      `built-in images come from Debian's darknet package, which is not installed (run bash scripts/setup.sh)`,
    );
  return file;
}
