// Parts of a trace that are computed the first time one of them is read. A panel at 2,048 tokens
// draws its first sections before any (T, T) map of the stages it shows only when scrolled to
// (simple, self-attention, causal attention, the heads) is written: each is 16 MB, and on a
// machine where a fresh page costs microseconds, writing them was a second of the trace.

/**
 * A copy of `eager` with `names` added as enumerable getters that compute all of them together,
 * once, with `compute`, the first time any of them is read. Spreads, JSON.stringify and
 * structured clones read them like plain properties; the trace store's byte count
 * (typedArrayBytes) reads no getter, so it counts them as they will be (engineThread's keptBytes).
 */
export function withPartsOnRead<Eager extends object, Parts extends object>(eager: Eager, names: readonly (keyof Parts & string)[], compute: () => Parts): Eager & Parts {
  let parts: Parts | undefined;
  const target = { ...eager } as Eager & Parts;
  for (const name of names) {
    Object.defineProperty(target, name, { enumerable: true, configurable: true, get: () => (parts ??= compute())[name] });
  }
  return target;
}
