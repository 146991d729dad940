// Assertions uvu/assert lacks.
import * as assert from "uvu/assert";

/** Asserts that `fn` rejects (or throws) with an error whose message matches `pattern`; returns the error. */
export async function rejects(fn: () => unknown, pattern: RegExp): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    const err = e as Error;
    assert.match(err.message, pattern);
    return err;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
  throw new Error("unreachable");
}
