// bitops.h: the kernel's bit operations on a word (or bitmap) of
// Atomic<unsigned long>, with the kernel memory model's ordering rules
// (kernel-protocol §1.4):
//  - non-value-returning RMWs (set_bit, clear_bit, change_bit) are atomic but
//    unordered: relaxed. x86 still emits a LOCKed instruction.
//  - value-returning RMWs (test_and_*) are fully ordered: seq_cst. g++ 12
//    lowers `fetch_or(m) & m` to `lock bts` (tests/codegen checks it).
//  - test_bit is a READ_ONCE-like load: relaxed.
//  - __set_bit/__clear_bit are plain load-modify-store: only for a word no
//    other CPU can touch (a page not yet published, or being freed). They are
//    deliberately *plain* memory accesses so ThreadSanitizer sees a misuse
//    on a live page (mutant b12_nonatomic_flag).
// W is Atomic<unsigned long> for any atomic policy with fetch_or/fetch_and/
// fetch_xor/load; nr may exceed the word size (bitmap), as in the kernel.
#pragma once

#include <atomic>
#include <climits>

#include "compiler.h"

namespace anonx {

inline constexpr unsigned kBitsPerLong = sizeof(unsigned long) * CHAR_BIT;

ANONX_INLINE constexpr unsigned long BIT_MASK(unsigned nr) { return 1UL << (nr % kBitsPerLong); }
ANONX_INLINE constexpr unsigned BIT_WORD(unsigned nr) { return nr / kBitsPerLong; }

// Atomically sets bit nr; unordered. fetch_or(mask); x86: lock or / lock bts.
template <class W>
ANONX_INLINE void set_bit(unsigned nr, W *addr) {
  addr[BIT_WORD(nr)].fetch_or(BIT_MASK(nr), std::memory_order_relaxed);
}

// Atomically clears bit nr; unordered. fetch_and(~mask); x86: lock and / lock btr.
template <class W>
ANONX_INLINE void clear_bit(unsigned nr, W *addr) {
  addr[BIT_WORD(nr)].fetch_and(~BIT_MASK(nr), std::memory_order_relaxed);
}

// Atomically flips bit nr; unordered. fetch_xor(mask); x86: lock xor / lock btc.
template <class W>
ANONX_INLINE void change_bit(unsigned nr, W *addr) {
  addr[BIT_WORD(nr)].fetch_xor(BIT_MASK(nr), std::memory_order_relaxed);
}

// Returns bit nr; a single relaxed load (READ_ONCE), no ordering.
template <class W>
ANONX_INLINE bool test_bit(unsigned nr, const W *addr) {
  return (addr[BIT_WORD(nr)].load(std::memory_order_relaxed) & BIT_MASK(nr)) != 0;
}

// Sets bit nr, returns its old value; fully ordered. fetch_or(mask) & mask;
// g++: lock bts.
template <class W>
ANONX_INLINE bool test_and_set_bit(unsigned nr, W *addr) {
  const unsigned long mask = BIT_MASK(nr);
  return (addr[BIT_WORD(nr)].fetch_or(mask, std::memory_order_seq_cst) & mask) != 0;
}

// Clears bit nr, returns its old value; fully ordered. fetch_and(~mask) & mask;
// g++: lock btr.
template <class W>
ANONX_INLINE bool test_and_clear_bit(unsigned nr, W *addr) {
  const unsigned long mask = BIT_MASK(nr);
  return (addr[BIT_WORD(nr)].fetch_and(~mask, std::memory_order_seq_cst) & mask) != 0;
}

// Flips bit nr, returns its old value; fully ordered. fetch_xor(mask) & mask;
// g++: lock btc.
template <class W>
ANONX_INLINE bool test_and_change_bit(unsigned nr, W *addr) {
  const unsigned long mask = BIT_MASK(nr);
  return (addr[BIT_WORD(nr)].fetch_xor(mask, std::memory_order_seq_cst) & mask) != 0;
}

// Sets bit nr, returns its old value; ACQUIRE ordering on success (a bit
// spinlock's lock, trylock_page). fetch_or(mask, acquire) & mask; g++: lock bts.
template <class W>
ANONX_INLINE bool test_and_set_bit_lock(unsigned nr, W *addr) {
  const unsigned long mask = BIT_MASK(nr);
  return (addr[BIT_WORD(nr)].fetch_or(mask, std::memory_order_acquire) & mask) != 0;
}

// Clears bit nr with RELEASE ordering (a bit spinlock's unlock, unlock_page).
template <class W>
ANONX_INLINE void clear_bit_unlock(unsigned nr, W *addr) {
  addr[BIT_WORD(nr)].fetch_and(~BIT_MASK(nr), std::memory_order_release);
}

// The plain word behind an atomic: what the kernel's non-atomic bitops touch.
// The atomic policy must be layout-compatible with unsigned long.
template <class W>
ANONX_INLINE unsigned long *plain_word(W *addr, unsigned nr) {
  static_assert(sizeof(W) == sizeof(unsigned long), "atomic word must be a bare word");
  return reinterpret_cast<unsigned long *>(addr + BIT_WORD(nr));
}

// Non-atomic set: plain load, or, plain store. Lost update if any other CPU
// writes any bit of the word concurrently (B12).
template <class W>
ANONX_INLINE void __set_bit(unsigned nr, W *addr) {
  unsigned long *p = plain_word(addr, nr);
  *p = *p | BIT_MASK(nr);
}

// Non-atomic clear: plain load, and, plain store (same rule as __set_bit).
template <class W>
ANONX_INLINE void __clear_bit(unsigned nr, W *addr) {
  unsigned long *p = plain_word(addr, nr);
  *p = *p & ~BIT_MASK(nr);
}

}  // namespace anonx
