// SPDX-License-Identifier: GPL-2.0-only
// pte.h: page-table entries as 64-bit words, in a bit layout of the model's
// own (x86's is arch/x86/include/asm/pgtable_types.h); the non-present kinds
// are those of include/linux/swapops.h (6.1).
//
//  present entry    bit 0 PRESENT, 1 WRITE, 2 DIRTY, 3 YOUNG, 4 HUGE (PMD leaf),
//                   5 TABLE (PMD pointing at a PTE table), pfn/table << 12
//  non-present      bit 0 clear, bits 1..3 the type (swap, migration READ,
//                   READ_EXCLUSIVE, WRITE), bit 4 SWP_EXCLUSIVE, offset/pfn << 12
//  none             0
// A PMD uses the same encoding: a huge leaf (PRESENT|HUGE), a table pointer
// (PRESENT|TABLE) or none/migration.
#pragma once

#include <cstdint>

#include "compiler.h"

namespace anonx {

using pteval_t = uint64_t;

struct pte_t {
  pteval_t v = 0;
  friend bool operator==(pte_t a, pte_t b) { return a.v == b.v; }
};
using pmd_t = pte_t;

inline constexpr pteval_t _PAGE_PRESENT = 1u << 0;
inline constexpr pteval_t _PAGE_RW = 1u << 1;
inline constexpr pteval_t _PAGE_DIRTY = 1u << 2;
inline constexpr pteval_t _PAGE_ACCESSED = 1u << 3;
inline constexpr pteval_t _PAGE_PSE = 1u << 4;    // huge PMD leaf
inline constexpr pteval_t _PAGE_TABLE = 1u << 5;  // PMD -> PTE table
inline constexpr unsigned PTE_PFN_SHIFT = 12;
inline constexpr unsigned PTRS_PER_PTE = 512;

// Non-present entry types.
enum swp_type : unsigned {
  SWP_NONE = 0,
  SWP_SWAPFILE = 1,
  SWP_MIGRATION_READ = 2,
  SWP_MIGRATION_READ_EXCLUSIVE = 3,
  SWP_MIGRATION_WRITE = 4,
};
inline constexpr pteval_t _PAGE_SWP_EXCLUSIVE = 1u << 4;
inline constexpr pteval_t SWP_TYPE_MASK = 0x7u << 1;

ANONX_INLINE constexpr bool pte_none(pte_t p) { return p.v == 0; }
ANONX_INLINE constexpr bool pte_present(pte_t p) { return p.v & _PAGE_PRESENT; }
ANONX_INLINE constexpr bool pte_write(pte_t p) { return pte_present(p) && (p.v & _PAGE_RW); }
ANONX_INLINE constexpr bool pte_dirty(pte_t p) { return pte_present(p) && (p.v & _PAGE_DIRTY); }
ANONX_INLINE constexpr bool pte_young(pte_t p) { return pte_present(p) && (p.v & _PAGE_ACCESSED); }
ANONX_INLINE constexpr unsigned long pte_pfn(pte_t p) { return p.v >> PTE_PFN_SHIFT; }

ANONX_INLINE constexpr pte_t pfn_pte(unsigned long pfn, bool write) {
  return {(static_cast<pteval_t>(pfn) << PTE_PFN_SHIFT) | _PAGE_PRESENT | _PAGE_ACCESSED |
          (write ? (_PAGE_RW | _PAGE_DIRTY) : 0)};
}
ANONX_INLINE constexpr pte_t pte_mkwrite(pte_t p) { return {p.v | _PAGE_RW}; }
ANONX_INLINE constexpr pte_t pte_wrprotect(pte_t p) { return {p.v & ~_PAGE_RW}; }
ANONX_INLINE constexpr pte_t pte_mkdirty(pte_t p) { return {p.v | _PAGE_DIRTY}; }
ANONX_INLINE constexpr pte_t pte_mkclean(pte_t p) { return {p.v & ~_PAGE_DIRTY}; }
ANONX_INLINE constexpr pte_t pte_mkyoung(pte_t p) { return {p.v | _PAGE_ACCESSED}; }
ANONX_INLINE constexpr pte_t pte_mkold(pte_t p) { return {p.v & ~_PAGE_ACCESSED}; }

// ---- swap and migration entries ------------------------------------------

ANONX_INLINE constexpr bool is_swap_pte(pte_t p) { return !pte_none(p) && !pte_present(p); }
ANONX_INLINE constexpr unsigned swp_type_of(pte_t p) {
  return static_cast<unsigned>((p.v & SWP_TYPE_MASK) >> 1);
}
ANONX_INLINE constexpr unsigned long swp_offset(pte_t p) { return p.v >> PTE_PFN_SHIFT; }
ANONX_INLINE constexpr pte_t swp_entry_to_pte(unsigned type, unsigned long offset) {
  return {(static_cast<pteval_t>(offset) << PTE_PFN_SHIFT) | (static_cast<pteval_t>(type) << 1)};
}
ANONX_INLINE constexpr bool is_swap_entry(pte_t p) {
  return is_swap_pte(p) && swp_type_of(p) == SWP_SWAPFILE;
}
ANONX_INLINE constexpr bool is_migration_entry(pte_t p) {
  return is_swap_pte(p) && swp_type_of(p) >= SWP_MIGRATION_READ &&
         swp_type_of(p) <= SWP_MIGRATION_WRITE;
}
ANONX_INLINE constexpr bool is_writable_migration_entry(pte_t p) {
  return is_swap_pte(p) && swp_type_of(p) == SWP_MIGRATION_WRITE;
}
ANONX_INLINE constexpr bool is_readable_exclusive_migration_entry(pte_t p) {
  return is_swap_pte(p) && swp_type_of(p) == SWP_MIGRATION_READ_EXCLUSIVE;
}
ANONX_INLINE constexpr pte_t pte_swp_mkexclusive(pte_t p) { return {p.v | _PAGE_SWP_EXCLUSIVE}; }
ANONX_INLINE constexpr pte_t pte_swp_clear_exclusive(pte_t p) {
  return {p.v & ~_PAGE_SWP_EXCLUSIVE};
}
ANONX_INLINE constexpr bool pte_swp_exclusive(pte_t p) {
  return is_swap_pte(p) && (p.v & _PAGE_SWP_EXCLUSIVE);
}

// ---- PMD ------------------------------------------------------------------

ANONX_INLINE constexpr bool pmd_none(pmd_t p) { return p.v == 0; }
ANONX_INLINE constexpr bool pmd_present(pmd_t p) { return p.v & _PAGE_PRESENT; }
ANONX_INLINE constexpr bool pmd_trans_huge(pmd_t p) { return pmd_present(p) && (p.v & _PAGE_PSE); }
ANONX_INLINE constexpr bool pmd_table(pmd_t p) { return pmd_present(p) && (p.v & _PAGE_TABLE); }
ANONX_INLINE constexpr unsigned long pmd_table_index(pmd_t p) { return p.v >> PTE_PFN_SHIFT; }
ANONX_INLINE constexpr pmd_t mk_pmd_table(unsigned long table) {
  return {(static_cast<pteval_t>(table) << PTE_PFN_SHIFT) | _PAGE_PRESENT | _PAGE_TABLE};
}
ANONX_INLINE constexpr pmd_t pfn_pmd(unsigned long head_pfn, bool write) {
  return {pfn_pte(head_pfn, write).v | _PAGE_PSE};
}

}  // namespace anonx
