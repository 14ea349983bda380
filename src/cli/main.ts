#!/usr/bin/env node
// The `loom` command: `loom <system> <verb> [options]`. Thin over the library.
import { commands, usage } from './commands.js';
import { UserError } from './errors.js';
import { watchParent } from './parent.js';

async function main(argv: string[]): Promise<void> {
  watchParent();
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(usage());
    return;
  }
  const command = commands().find((c) => c.name === cmd);
  if (!command) throw new UserError(`unknown command '${cmd}'; run \`loom --help\` for the list`);
  return command.run(rest);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  // Bad input is one sentence and exit code 2: the library throws plain Errors (and the CLI
  // UserErrors) for it. TypeError and the like are Loom's own bugs: show where.
  const err = e instanceof Error ? e : new Error(String(e));
  if (err instanceof UserError || err.constructor === Error) {
    console.error(`loom: ${err.message}`);
    process.exit(2);
  }
  console.error(`loom: internal error: ${err.stack ?? err.message}`);
  process.exit(1);
});
