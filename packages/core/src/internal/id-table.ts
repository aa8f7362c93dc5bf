/**
 * A table from stream ids (1 .. 2^32-1) to values: open addressing with linear probing and deletion
 * by backward shift, keys in a Uint32Array. A session adds and removes a stream per call; a Map of
 * numbers keeps deleted entries until it rehashes into a new table, so that churn allocated a new
 * table every few hundred calls. This one allocates only when it doubles or halves.
 */

const MIN_CAPACITY = 16
/**
 * The table halves (at an eighth full) only above this capacity: a session whose open streams swing
 * between none and hundreds with each burst of calls would otherwise resize on every burst.
 */
const KEEP_CAPACITY = 2048

export class IdTable<V> {
  private keys!: Uint32Array
  private slots!: (V | undefined)[]
  private mask = 0
  /** 32 - log2(capacity): Fibonacci hashing takes the top bits of id * 2^32/phi. */
  private shift = 0
  /** How many ids are in the table. */
  size = 0

  constructor() {
    this.allocate(MIN_CAPACITY)
  }

  private allocate(capacity: number): void {
    this.keys = new Uint32Array(capacity)
    this.slots = new Array<V | undefined>(capacity).fill(undefined)
    this.mask = capacity - 1
    this.shift = 32 - Math.log2(capacity)
  }

  private home(id: number): number {
    return Math.imul(id, 0x9e3779b1) >>> this.shift
  }

  get(id: number): V | undefined {
    const keys = this.keys
    let i = this.home(id)
    for (;;) {
      const key = keys[i]!
      if (key === id) return this.slots[i]
      if (key === 0) return undefined
      i = (i + 1) & this.mask
    }
  }

  has(id: number): boolean {
    return this.get(id) !== undefined
  }

  /** Adds or replaces. `id` must be 1 .. 2^32-1 and `value` not undefined. */
  set(id: number, value: V): void {
    if (id <= 0 || id > 0xffffffff || !Number.isInteger(id)) throw new RangeError(`not a stream id: ${id}`)
    const keys = this.keys
    let i = this.home(id)
    for (;;) {
      const key = keys[i]!
      if (key === id) {
        this.slots[i] = value
        return
      }
      if (key === 0) break
      i = (i + 1) & this.mask
    }
    keys[i] = id
    this.slots[i] = value
    this.size++
    if (this.size * 2 > keys.length) this.resize(keys.length * 2)
  }

  delete(id: number): boolean {
    const keys = this.keys
    const mask = this.mask
    let i = this.home(id)
    for (;;) {
      const key = keys[i]!
      if (key === id) break
      if (key === 0) return false
      i = (i + 1) & mask
    }
    // Backward shift: move each later entry of the run into the hole if its home allows it.
    let hole = i
    let j = i
    for (;;) {
      j = (j + 1) & mask
      const key = keys[j]!
      if (key === 0) break
      const home = this.home(key)
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        keys[hole] = key
        this.slots[hole] = this.slots[j]
        hole = j
      }
    }
    keys[hole] = 0
    this.slots[hole] = undefined
    this.size--
    if (keys.length > KEEP_CAPACITY && this.size * 8 < keys.length) this.resize(keys.length / 2)
    return true
  }

  /** The values, by increasing id (a copy: the table may change while the caller walks it). */
  values(): V[] {
    const ids: number[] = []
    for (const key of this.keys) if (key !== 0) ids.push(key)
    ids.sort((a, b) => a - b)
    return ids.map((id) => this.get(id)!)
  }

  private resize(capacity: number): void {
    const keys = this.keys
    const slots = this.slots
    this.allocate(capacity)
    this.size = 0
    for (let i = 0; i < keys.length; i++) if (keys[i] !== 0) this.set(keys[i]!, slots[i]!)
  }
}
