// `loom <system> <verb> ...` for systems with several verbs: each verb's run, the list that
// `loom <system> --help` prints, and one sentence for a verb the system does not have.
import { UserError } from './errors.js';

export interface Verb {
  /** What it does, for the list. */
  what: string;
  run(args: string[]): Promise<void>;
}

/** The list `loom <system> --help` prints: each verb and what it does. */
export function verbUsage(system: string, verbs: Readonly<Record<string, Verb>>): string {
  const names = Object.keys(verbs);
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const lines = Object.entries(verbs).map(([name, v]) => `  ${name.padEnd(width)}${v.what}`);
  return `usage: loom ${system} <${names.join('|')}> [options]\n\n${lines.join('\n')}`;
}

/** Runs the verb `args` names. */
export async function runVerb(system: string, verbs: Readonly<Record<string, Verb>>, args: string[]): Promise<void> {
  const [verb, ...rest] = args;
  if (verb !== undefined && Object.hasOwn(verbs, verb)) return verbs[verb].run(rest);
  if (verb === undefined || verb === '--help' || verb === '-h') return void console.log(verbUsage(system, verbs));
  const names = Object.keys(verbs);
  throw new UserError(`unknown ${system} command '${verb}'; use ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`);
}
