// `loom studio`: the local web studio over the library (src/studio).
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
  help: { type: 'bool', help: 'show this help' },
};

const OPTS_HELP: CommandHelp = {
  usage: 'loom studio [--port 7860] [--host 127.0.0.1] [--root DIR]',
  about: 'Serves a local web page to train, watch and explore all five systems.',
  options: OPTS,
};

export async function studioCommand(args: string[]): Promise<void> {
  const parsed = parseCommand(args, OPTS_HELP);
  if (!parsed) return;
  const { values: o, positionals } = parsed;
  if (positionals.length) throw new UserError(`unexpected argument '${positionals[0]}'`);
  if (!(o.port >= 0 && o.port < 65536)) throw new UserError(`--port must be in 0..65535, got ${o.port}`);
  let studio;
  try {
    studio = await startStudio({ root: o.root, port: o.port, host: o.host });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UserError(`port ${o.port} is in use; pick another with --port`);
    if (code === 'EADDRNOTAVAIL') throw new UserError(`cannot listen on ${o.host}: no such address here`);
    throw e;
  }
  if (!['127.0.0.1', '::1', 'localhost'].includes(o.host))
    console.error(`loom: warning: listening on ${o.host}; anyone who can reach it can run jobs here`);
  console.log(`Loom studio at ${studio.link} (runs in ${studio.root}/runs); Ctrl-C stops it`);
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
