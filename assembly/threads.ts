// SPMD threading: every thread runs the same exported kernel on its own instance over the one
// shared memory, takes its share of each loop by its id, and meets the others at barriers.
// Each output element is computed by exactly one thread in a fixed order, so results are
// bitwise identical for any thread count.

let threadId: i32 = 0;
let threadCount: i32 = 1;
let barrierAt: usize = 0;

// Spins before sleeping: a wake-up costs microseconds, a short spin much less, and with no more
// threads than cores the others arrive soon.
const SPINS = 100000;

/** Sets this instance's thread id, the number of threads, and the barrier's 8 bytes. */
export function setThread(id: i32, count: i32, barrier: usize): void {
  threadId = id;
  threadCount = count;
  barrierAt = barrier;
}

/** This instance's thread id. */
// @ts-ignore: decorator
@inline export function tid(): i32 {
  return threadId;
}

/** Number of threads running every kernel. */
// @ts-ignore: decorator
@inline export function threads(): i32 {
  return threadCount;
}

/** Start of this thread's share when n items are split evenly: items [share(n), shareEnd(n)). */
// @ts-ignore: decorator
@inline export function share(n: i32): i32 {
  return <i32>((<i64>n * <i64>threadId) / <i64>threadCount);
}

// @ts-ignore: decorator
@inline export function shareEnd(n: i32): i32 {
  return <i32>((<i64>n * <i64>(threadId + 1)) / <i64>threadCount);
}

/**
 * This thread's share of n floats split in whole groups of four (one f32x4 each, the last
 * group possibly short): floats [share4(n), share4End(n)).
 */
// @ts-ignore: decorator
@inline export function share4(n: i32): i32 {
  return min(n, share((n + 3) / 4) * 4);
}

// @ts-ignore: decorator
@inline export function share4End(n: i32): i32 {
  return min(n, shareEnd((n + 3) / 4) * 4);
}

/** Waits until every thread has arrived (a sense-counting barrier: count, then generation). */
export function barrier(): void {
  if (threadCount == 1) return;
  const count = barrierAt;
  const generation = barrierAt + 4;
  const gen = atomic.load<i32>(generation);
  if (atomic.add<i32>(count, 1) == threadCount - 1) {
    atomic.store<i32>(count, 0);
    atomic.store<i32>(generation, gen + 1);
    atomic.notify(generation, threadCount);
    return;
  }
  let spins = 0;
  while (atomic.load<i32>(generation) == gen) {
    if (++spins > SPINS) atomic.wait<i32>(generation, gen, -1);
  }
}

/** n barriers in a row: what the profile (bench/profile.ts) times to price one barrier. */
export function barriers(n: i32): void {
  for (let i = 0; i < n; i++) barrier();
}
