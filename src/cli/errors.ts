// A UserError is bad input: the CLI prints its one sentence and exits with code 2.
export class UserError extends Error {
  override name = 'UserError';
}
