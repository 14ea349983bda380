// `loom studio`: the local web studio over the library (src/studio).
import { existsSync } from 'node:fs';
import { RunsFolderError } from '../studio/runs.js';
import { startStudio } from '../studio/server.js';
import { parseCommand, type CommandHelp, type OptSpecs } from './args.js';
import { UserError } from './errors.js';

const OPTS: OptSpecs = {
  port: { type: 'int', help: 'port (0: any free port)', default: 7860 },
  host: {
    type: 'string',
    help: 'address to listen on; loopback by default, so only this machine can reach it',
    default: '127.0.0.1',
  },
  root: { type: 'string', help: 'folder for runs/ and uploads/', default: '.', meta: 'DIR' },
  runs: {
    type: 'strings',
    help: "other folders of runs to list beside the root's runs/ (repeatable; default: the demo's gallery/runs)",
    meta: 'DIR,..',
  },
  help: { type: 'bool', help: 'show this help' },
};

const OPTS_HELP: CommandHelp = {
  usage: 'loom studio [--port 7860] [--host 127.0.0.1] [--root DIR] [--runs DIR ...]',
  about: 'Serves a local web page to train, watch and explore every system.',
  options: OPTS,
};

/** Every --runs value, repeated or comma-separated (the parser keeps only the last). */
function runsFolders(args: string[]): string[] | undefined {
  const given: string[] = [];
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    if (args[i] === '--runs') given.push(args[++i] ?? '');
    else if (args[i].startsWith('--runs=')) given.push(args[i].slice('--runs='.length));
  }
  const dirs = given.flatMap((v) => v.split(',').map((s) => s.trim())).filter(Boolean);
  return given.length ? dirs : undefined;
}

export async function studioCommand(args: string[]): Promise<void> {
  const parsed = parseCommand(args, OPTS_HELP);
  if (!parsed) return;
  const { values: o, positionals } = parsed;
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'`);
  if (!(o.port >= 0 && o.port < 65536)) throw new UserError(`--port must be in 0..65535, got ${o.port}`);
  let studio;
  try {
    studio = await startStudio({ root: o.root, port: o.port, host: o.host, runs: runsFolders(args) });
  } catch (e) {
    if (e instanceof RunsFolderError) throw new UserError(`--runs: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UserError(`port ${o.port} is in use; pick another with --port`);
    if (code === 'EADDRNOTAVAIL') throw new UserError(`cannot listen on ${o.host}: no such address here`);
    throw e;
  }
  if (!['127.0.0.1', '::1', 'localhost'].includes(o.host))
    console.error(`loom: warning: listening on ${o.host}; anyone who can reach it can run jobs here`);
  console.log(`Loom studio at ${studio.link} (runs in ${studio.root}/runs); Ctrl-C stops it`);
  const others = studio.runFolders.slice(1).filter((d) => existsSync(d));
  if (others.length) console.log(`It lists the runs in ${others.join(', ')} too.`);
  console.log('Open that link: its token is the only way in, and the browser keeps it as a cookie.');
  // Ctrl-C or a service manager's SIGTERM: the running job saves its checkpoint (SIGINT), is
  // killed if it has not stopped within the grace, and then the studio exits.
  const stop = (): void => {
    console.error('loom: stopping the studio; the running job saves its checkpoint first');
    void studio.close().then(
      () => process.exit(0),
      (e: unknown) => {
        console.error(`loom: the studio did not stop cleanly: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
