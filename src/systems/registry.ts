// Every system Loom has, in the order help and pages list them. The CLI, the studio, the
// demo, `loom export` and the guides' option tables read this list; a new system is a folder
// with a System description (system.ts) and one line here.
import type { Checkpoint } from '../io/checkpoint.js';
import { dreamSystem } from './dream/system.js';
import { ganSystem } from './gan/system.js';
import { styleSystem } from './style/system.js';
import type { System } from './system.js';
import { textSystem } from './text/system.js';
import { vaeSystem } from './vae/system.js';

export const SYSTEMS: System[] = [textSystem, dreamSystem, styleSystem, vaeSystem, ganSystem];

/**
 * Adds a system (a plugin's, or a test's) after the built-in ones; it then appears in help,
 * the studio's `/api/systems` and the export. A name already taken is refused.
 */
export function registerSystem(system: System): void {
  if (!/^[a-z][a-z0-9-]*$/.test(system.name))
    throw new Error(`a system's name must be lower-case letters, digits and dashes, got '${system.name}'`);
  if (SYSTEMS.some((s) => s.name === system.name)) throw new Error(`there is already a system named ${system.name}`);
  SYSTEMS.push(system);
}

/** The system of that name, or undefined. */
export function systemNamed(name: string): System | undefined {
  return SYSTEMS.find((s) => s.name === name);
}

/**
 * The system that made a checkpoint: the `system` its config records, else `folderSays` (what
 * the config.json of its run folder records, where the caller read one), else the system whose
 * export recognises its tensors (a run saved before runs recorded their system). The export
 * and the studio's runs list both tell runs apart by this. Undefined when none fits.
 */
export function systemOfCheckpoint(ck: Checkpoint, folderSays: string | null): System | undefined {
  const name = typeof ck.config.system === 'string' ? ck.config.system : folderSays;
  return name === null ? SYSTEMS.find((s) => s.export?.recognises?.(ck)) : systemNamed(name);
}
