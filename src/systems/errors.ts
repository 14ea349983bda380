// The library's errors: bad input or a state it cannot go on from is a LoomError whose message
// is the one sentence the CLI prints; any other error is a bug of Loom's own.

/** Bad input, or a run or file Loom cannot use: `message` is one sentence for the user. */
export class LoomError extends Error {
  override name = 'LoomError';
}

/** A plain Error from the layers below (their sentences) as a LoomError; anything else as it is. */
function typed(e: unknown): unknown {
  return e instanceof Error && e.constructor === Error ? new LoomError(e.message, { cause: e }) : e;
}

/** Runs `work`, turning the sentences it throws into LoomErrors. */
export async function withSentences<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw typed(e);
  }
}

/** withSentences for synchronous work. */
export function withSentencesSync<T>(work: () => T): T {
  try {
    return work();
  } catch (e) {
    throw typed(e);
  }
}
