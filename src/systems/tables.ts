// Every option table by the command it configures, from the registry: the guides' option
// tables are generated from these (scripts/options-docs.mjs), so that the docs cannot drift.
import type { OptionTable } from '../models/options.js';
import { SYSTEMS } from './registry.js';

export const OPTION_TABLES: Record<string, { guide: string; table: OptionTable }> = Object.fromEntries(
  SYSTEMS.flatMap((s) => Object.entries(s.options).map(([command, table]) => [command, { guide: s.name, table }])),
);
