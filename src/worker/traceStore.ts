// The traces the engine keeps for the panel, by trace id, within a memory budget. The newest
// trace is never evicted (it is the open panel's: the host releases a trace when its panel
// closes or shows a newer one); older ones go, oldest first, once the budget is exceeded.

/**
 * Bytes of every typed array under `value`, each buffer counted once. Values behind getters are
 * not read: a trace's (T, T) maps are computed when first read (src/engine/onRead.ts), and
 * reading them here would compute hundreds of MB of maps at 2,048 tokens before the panel gets
 * its stages; whoever keeps such a trace counts them (see the engine thread's keptBytes).
 */
export function typedArrayBytes(value: unknown, seen = new Set<ArrayBufferLike>()): number {
  if (ArrayBuffer.isView(value)) {
    if (seen.has(value.buffer)) return 0;
    seen.add(value.buffer);
    return value.buffer.byteLength;
  }
  if (!value || typeof value !== 'object') return 0;
  let bytes = 0;
  for (const property of Object.values(Object.getOwnPropertyDescriptors(value))) {
    if ('value' in property) bytes += typedArrayBytes(property.value, seen);
  }
  return bytes;
}

export class TraceStore<T> {
  private readonly entries = new Map<number, { value: T; bytes: number }>(); // in insertion order: oldest first
  private total = 0;

  constructor(private readonly budgetBytes: number) {}

  /** Keeps `value` under `id` as the newest trace, then evicts older ones while over the budget. */
  put(id: number, value: T, bytes = typedArrayBytes(value)): void {
    this.release(id);
    this.entries.set(id, { value, bytes });
    this.total += bytes;
    for (const [oldId, entry] of this.entries) {
      if (this.total <= this.budgetBytes || oldId === id) break;
      this.entries.delete(oldId);
      this.total -= entry.bytes;
    }
  }

  get(id: number): T | undefined {
    return this.entries.get(id)?.value;
  }

  release(id: number): boolean {
    const entry = this.entries.get(id);
    if (!entry) return false;
    this.entries.delete(id);
    this.total -= entry.bytes;
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.total;
  }
}
