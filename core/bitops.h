// SPDX-License-Identifier: GPL-2.0-only
// bitops.h: the kernel's bit operations on a word (or bitmap) of
// Atomic<unsigned long>, with the kernel memory model's ordering rules
// (Documentation/atomic_bitops.txt, 6.1):
//  - non-value-returning RMWs (set_bit, clear_bit, change_bit) are atomic but
//    unordered: relaxed. x86 still emits a LOCKed instruction.
//  - value-returning RMWs (test_and_*) are fully ordered: seq_cst. g++ 12
//    lowers `fetch_or(m) & m` to `lock bts` (tests/codegen checks it).
//  - test_bit is a READ_ONCE-like load: relaxed.
//  - __set_bit/__clear_bit are a separate load and store (a lost update if
//    another CPU writes the word in between): only for a word no other CPU
//    can write (a page not yet published, or being freed). The B12 mutant's
//    misuse on a live page is a deliberately plain RMW that ThreadSanitizer
//    reports (rmap.h nonatomic_flag_update).
// W is Atomic<unsigned long> for any atomic policy with fetch_or/fetch_and/
// fetch_xor/load; nr may exceed the word size (bitmap), as in the kernel.
// Every atomic RMW counts in this CPU's profile as one on a flags word
// (core/lockstat.h; nothing when profiling is off).
#pragma once

#include <atomic>
#include <climits>

#include "compiler.h"
#include "lockstat.h"

namespace anonx {

inline constexpr unsigned kBitsPerLong = sizeof(unsigned long) * CHAR_BIT;

ANONX_INLINE constexpr unsigned long BIT_MASK(unsigned nr) { return 1UL << (nr % kBitsPerLong); }
ANONX_INLINE constexpr unsigned BIT_WORD(unsigned nr) { return nr / kBitsPerLong; }

// Atomically sets bit nr; unordered. fetch_or(mask); x86: lock or / lock bts.
template <class W>
ANONX_INLINE void set_bit(unsigned nr, W *addr) {
  word_rmw(word_kind::flags);
  addr[BIT_WORD(nr)].fetch_or(BIT_MASK(nr), std::memory_order_relaxed);
}

// Atomically clears bit nr; unordered. fetch_and(~mask); x86: lock and / lock btr.
template <class W>
ANONX_INLINE void clear_bit(unsigned nr, W *addr) {
  word_rmw(word_kind::flags);
  addr[BIT_WORD(nr)].fetch_and(~BIT_MASK(nr), std::memory_order_relaxed);
}

// Atomically flips bit nr; unordered. fetch_xor(mask); x86: lock xor / lock btc.
template <class W>
ANONX_INLINE void change_bit(unsigned nr, W *addr) {
  word_rmw(word_kind::flags);
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
  word_rmw(word_kind::flags);
  const unsigned long mask = BIT_MASK(nr);
  return (addr[BIT_WORD(nr)].fetch_or(mask, std::memory_order_seq_cst) & mask) != 0;
}

// Clears bit nr, returns its old value; fully ordered. fetch_and(~mask) & mask;
// g++: lock btr.
template <class W>
ANONX_INLINE bool test_and_clear_bit(unsigned nr, W *addr) {
  word_rmw(word_kind::flags);
  const unsigned long mask = BIT_MASK(nr);
  return (addr[BIT_WORD(nr)].fetch_and(~mask, std::memory_order_seq_cst) & mask) != 0;
}

// Flips bit nr, returns its old value; fully ordered. fetch_xor(mask) & mask;
// g++: lock btc.
template <class W>
ANONX_INLINE bool test_and_change_bit(unsigned nr, W *addr) {
  word_rmw(word_kind::flags);
  const unsigned long mask = BIT_MASK(nr);
  return (addr[BIT_WORD(nr)].fetch_xor(mask, std::memory_order_seq_cst) & mask) != 0;
}

// Sets bit nr, returns its old value; ACQUIRE ordering on success (a bit
// spinlock's lock, trylock_page). fetch_or(mask, acquire) & mask; g++: lock bts.
template <class W>
ANONX_INLINE bool test_and_set_bit_lock(unsigned nr, W *addr) {
  word_rmw(word_kind::flags);
  const unsigned long mask = BIT_MASK(nr);
  return (addr[BIT_WORD(nr)].fetch_or(mask, std::memory_order_acquire) & mask) != 0;
}

// Clears bit nr with RELEASE ordering (a bit spinlock's unlock, unlock_page).
template <class W>
ANONX_INLINE void clear_bit_unlock(unsigned nr, W *addr) {
  word_rmw(word_kind::flags);
  addr[BIT_WORD(nr)].fetch_and(~BIT_MASK(nr), std::memory_order_release);
}

// The plain word behind an atomic: what a deliberately plain access (the
// B12 mutant's read-modify-write on a live page) touches. The atomic policy
// must be layout-compatible with unsigned long, or say where its plain word
// is (a member plain_word(); the Relacy back end's has none it can show).
template <class W>
ANONX_INLINE unsigned long *plain_word(W *addr, unsigned nr) {
  if constexpr (requires(W & w) { w.plain_word(); }) {
    return addr[BIT_WORD(nr)].plain_word();
  } else {
    static_assert(sizeof(W) == sizeof(unsigned long), "atomic word must be a bare word");
    return reinterpret_cast<unsigned long *>(addr + BIT_WORD(nr));
  }
}

// Non-atomic set: a load, an or, a store, as two separate single-word
// accesses (relaxed): an update by another CPU between them is lost (B12),
// exactly as with the kernel's plain RMW. The accesses themselves are
// atomic because lockless readers legitimately read the flags of a page
// being prepared (GUP-fast on a stale PTE, PFN walkers): the kernel
// tolerates those reads, and so must ThreadSanitizer. Allowed only while no
// other CPU can *write* any bit of the word.
template <class W>
ANONX_INLINE void __set_bit(unsigned nr, W *addr) {
  W &w = addr[BIT_WORD(nr)];
  w.store(w.load(std::memory_order_relaxed) | BIT_MASK(nr), std::memory_order_relaxed);
}

// Non-atomic clear: same rule as __set_bit.
template <class W>
ANONX_INLINE void __clear_bit(unsigned nr, W *addr) {
  W &w = addr[BIT_WORD(nr)];
  w.store(w.load(std::memory_order_relaxed) & ~BIT_MASK(nr), std::memory_order_relaxed);
}

}  // namespace anonx
