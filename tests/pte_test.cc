// SPDX-License-Identifier: GPL-2.0-only
// pte_test.cc: PTE/PMD encode/decode round trips for every entry kind of
// core/pte.h: none, present R/O and R/W, dirty/young,
// swap with and without SWP_EXCLUSIVE, migration READ / READ_EXCLUSIVE /
// WRITE, huge PMD, PMD table pointer, and the freed-table poison.
#include "pte.h"

#include <gtest/gtest.h>

#include <random>

#include "mm.h"
#include "test_util.h"

namespace anonx {
namespace {

// Every kind predicate of an entry, so each test can say which one holds.
struct kinds {
  bool none, present, swap_pte, swap_entry, migration, mig_write, mig_read_excl, swp_excl;
};
kinds kinds_of(pte_t p) {
  return {pte_none(p),
          pte_present(p),
          is_swap_pte(p),
          is_swap_entry(p),
          is_migration_entry(p),
          is_writable_migration_entry(p),
          is_readable_exclusive_migration_entry(p),
          pte_swp_exclusive(p)};
}

constexpr unsigned long kPfns[] = {0, 1, 511, 512, 4095, 0x12345, (1UL << 40) - 1};

TEST(Pte, None) {
  const pte_t p{};
  const kinds k = kinds_of(p);
  EXPECT_TRUE(k.none);
  EXPECT_FALSE(k.present || k.swap_pte || k.swap_entry || k.migration || k.swp_excl);
  EXPECT_FALSE(pte_write(p) || pte_dirty(p) || pte_young(p));
  EXPECT_TRUE(pmd_none(p));
  EXPECT_FALSE(pmd_present(p) || pmd_trans_huge(p) || pmd_table(p));
}

TEST(Pte, PresentReadOnly) {
  for (unsigned long pfn : kPfns) {
    const pte_t p = pfn_pte(pfn, false);
    const kinds k = kinds_of(p);
    EXPECT_TRUE(k.present);
    EXPECT_FALSE(k.none || k.swap_pte || k.migration || k.swp_excl);
    EXPECT_FALSE(pte_write(p));
    EXPECT_FALSE(pte_dirty(p));
    EXPECT_TRUE(pte_young(p));
    EXPECT_EQ(pte_pfn(p), pfn);
    EXPECT_FALSE(pmd_trans_huge(p));
    EXPECT_FALSE(pmd_table(p));
  }
}

TEST(Pte, PresentWritable) {
  for (unsigned long pfn : kPfns) {
    const pte_t p = pfn_pte(pfn, true);
    EXPECT_TRUE(pte_present(p));
    EXPECT_TRUE(pte_write(p));
    EXPECT_TRUE(pte_dirty(p));  // a writable anon mapping starts dirty
    EXPECT_EQ(pte_pfn(p), pfn);
    // write-protect (fork, swap-out's share) and back keep everything else
    const pte_t ro = pte_wrprotect(p);
    EXPECT_FALSE(pte_write(ro));
    EXPECT_TRUE(pte_dirty(ro));
    EXPECT_EQ(pte_pfn(ro), pfn);
    EXPECT_EQ(pte_mkwrite(ro), p);
    EXPECT_NE(ro, p);
  }
}

TEST(Pte, DirtyAndYoung) {
  const pte_t p = pfn_pte(77, false);
  EXPECT_TRUE(pte_dirty(pte_mkdirty(p)));
  EXPECT_FALSE(pte_dirty(pte_mkclean(pte_mkdirty(p))));
  EXPECT_FALSE(pte_young(pte_mkold(p)));
  EXPECT_TRUE(pte_young(pte_mkyoung(pte_mkold(p))));
  const pte_t all = pte_mkwrite(pte_mkdirty(pte_mkyoung(pfn_pte(77, false))));
  EXPECT_EQ(all, pfn_pte(77, true));
  EXPECT_EQ(pte_mkclean(pte_mkold(pte_wrprotect(all))), pte_mkold(pfn_pte(77, false)));
  for (pte_t q : {pte_mkdirty(p), pte_mkold(p), pte_mkclean(p), pte_wrprotect(p)})
    EXPECT_EQ(pte_pfn(q), 77UL);
}

TEST(Pte, SwapEntry) {
  for (unsigned long off : {1UL, 2UL, 1023UL, 0xabcdefUL, (1UL << 40) - 1}) {
    const pte_t p = swp_entry_to_pte(SWP_SWAPFILE, off);
    const kinds k = kinds_of(p);
    EXPECT_TRUE(k.swap_pte && k.swap_entry);
    EXPECT_FALSE(k.none || k.present || k.migration || k.swp_excl);
    EXPECT_EQ(swp_type_of(p), unsigned(SWP_SWAPFILE));
    EXPECT_EQ(swp_offset(p), off);
    EXPECT_FALSE(pte_write(p) || pte_dirty(p) || pte_young(p));  // no present bits
  }
}

// 5.19: SWP_EXCLUSIVE remembers PG_anon_exclusive across swap-out.
TEST(Pte, SwapEntryExclusive) {
  const pte_t p = swp_entry_to_pte(SWP_SWAPFILE, 4242);
  const pte_t x = pte_swp_mkexclusive(p);
  EXPECT_TRUE(pte_swp_exclusive(x));
  EXPECT_TRUE(is_swap_entry(x));
  EXPECT_FALSE(pte_present(x));
  EXPECT_EQ(swp_offset(x), 4242UL);
  EXPECT_EQ(swp_type_of(x), unsigned(SWP_SWAPFILE));
  EXPECT_EQ(pte_swp_clear_exclusive(x), p);
  EXPECT_EQ(pte_swp_mkexclusive(x), x);  // idempotent
  // The bit is PSE in a present entry: a huge PMD is never "swap exclusive".
  EXPECT_FALSE(pte_swp_exclusive(pfn_pmd(512, true)));
}

TEST(Pte, MigrationEntries) {
  struct {
    swp_type type;
    bool write, read_excl;
  } const cases[] = {{SWP_MIGRATION_READ, false, false},
                     {SWP_MIGRATION_READ_EXCLUSIVE, false, true},
                     {SWP_MIGRATION_WRITE, true, false}};
  for (const auto &c : cases) {
    for (unsigned long pfn : kPfns) {
      const pte_t p = swp_entry_to_pte(c.type, pfn);
      const kinds k = kinds_of(p);
      EXPECT_TRUE(k.swap_pte && k.migration) << c.type;
      EXPECT_FALSE(k.none || k.present || k.swap_entry || k.swp_excl) << c.type;
      EXPECT_EQ(k.mig_write, c.write) << c.type;
      EXPECT_EQ(k.mig_read_excl, c.read_excl) << c.type;
      EXPECT_EQ(swp_type_of(p), unsigned(c.type));
      EXPECT_EQ(swp_offset(p), pfn);
    }
  }
}

TEST(Pte, HugePmd) {
  for (unsigned long head : {0UL, 512UL, 1024UL * 512}) {
    for (bool w : {false, true}) {
      const pmd_t p = pfn_pmd(head, w);
      EXPECT_TRUE(pmd_present(p));
      EXPECT_TRUE(pmd_trans_huge(p));
      EXPECT_FALSE(pmd_table(p));
      EXPECT_FALSE(pmd_none(p));
      EXPECT_EQ(pte_pfn(p), head);
      EXPECT_EQ(pte_write(p), w);
      EXPECT_FALSE(is_swap_pte(p));
    }
  }
}

TEST(Pte, PmdTable) {
  for (unsigned long t : {0UL, 1UL, 63UL, 100000UL}) {
    const pmd_t p = mk_pmd_table(t);
    EXPECT_TRUE(pmd_present(p));
    EXPECT_TRUE(pmd_table(p));
    EXPECT_FALSE(pmd_trans_huge(p));
    EXPECT_FALSE(pmd_none(p));
    EXPECT_FALSE(pte_write(p));
    EXPECT_EQ(pmd_table_index(p), t);
  }
}

// A freed PTE table is filled with kPoisonPte: non-present, and neither a
// swap nor a migration entry, so no path can mistake it for one.
TEST(Pte, FreedTablePoison) {
  const pte_t p{kPoisonPte};
  const kinds k = kinds_of(p);
  EXPECT_TRUE(k.swap_pte);
  EXPECT_FALSE(k.none || k.present || k.swap_entry || k.migration);
}

// Random fields through every constructor and back.
TEST(Pte, RandomRoundTrip) {
  const uint64_t seed = testing::test_seed();
  SCOPED_TRACE(testing::seed_trace(seed));
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 100000; i++) {
    const unsigned long pfn = rng() & ((1UL << 40) - 1);
    const bool w = rng() & 1;
    const pte_t p = pfn_pte(pfn, w);
    ASSERT_EQ(pte_pfn(p), pfn);
    ASSERT_EQ(pte_write(p), w);
    ASSERT_TRUE(pte_present(p));
    const unsigned type = 1 + static_cast<unsigned>(rng() % 4);
    const unsigned long off = 1 + (rng() & ((1UL << 40) - 2));
    pte_t s = swp_entry_to_pte(type, off);
    if (rng() & 1) s = pte_swp_mkexclusive(s);
    ASSERT_EQ(swp_type_of(s), type);
    ASSERT_EQ(swp_offset(s), off);
    ASSERT_TRUE(is_swap_pte(s));
    ASSERT_EQ(is_swap_entry(s), type == SWP_SWAPFILE);
    ASSERT_EQ(is_migration_entry(s), type != SWP_SWAPFILE);
    ASSERT_EQ(swp_type_of(pte_swp_clear_exclusive(s)), type);
    ASSERT_EQ(pmd_table_index(mk_pmd_table(off)), off);
    ASSERT_EQ(pte_pfn(pfn_pmd(pfn, w)), pfn);
  }
}

}  // namespace
}  // namespace anonx
