// SPDX-License-Identifier: GPL-2.0-only
// paths_test.cc: the Paths fixture's instantiation (every TEST_P(Paths, ...)
// of tests/paths_*_test.cc runs on v5.19 and v6.2), and a page's first and
// last path: the anonymous fault that maps a new exclusive page, and the
// zap and munmap that free it.
//
// The path tests of the paths_test executable: one file per path, each
// test one rule: what the page tables, PG_anon_exclusive, the refcount,
// mapcount and pincount look like after the path ran alone
// (tests/paths_rig.h has the machine and the leak check they end with).
//   paths_test.cc              new anonymous page; zap and munmap
//   paths_fork_test.cc         fork
//   paths_write_fault_test.cc  write and unshare faults
//   paths_gup_test.cc          GUP-fast and slow GUP
//   paths_swap_test.cc         swap-out and swap-in
//   paths_migrate_test.cc      migration
//   paths_ksm_test.cc          KSM merge
//   paths_thp_test.cc          THP fault, split, fork, collapse
//   paths_generations_test.cc  what v5.18 (no flag) and v6.2 do differently
// A few tests run a mutant to show that the check they rely on can fail.
#include <gtest/gtest.h>

#include "paths_rig.h"

namespace anonx {
namespace {

using namespace paths_rig;

// ---- new anonymous page (mm/memory.c do_anonymous_page, 6.1) ----------------

TEST_P(Paths, AnonFaultMapsNewExclusivePageWritable) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  const pte_t pte = w.entry(mm, kA);
  ASSERT_TRUE(pte_present(pte));
  EXPECT_TRUE(pte_write(pte));
  page *p = w.page_at(mm, kA);
  EXPECT_TRUE(PageAnon(p));
  EXPECT_FALSE(PageCompound(p));
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(page_mapcount(p), 1);
  EXPECT_EQ(page_ref_count(p), 1);
  EXPECT_EQ(w.read(mm, kA), 42u);
  w.finish({&mm});
}

// ---- zap and free (mm/memory.c zap_pte_range, mm/mmap.c do_munmap, 6.1) -----

TEST_P(Paths, ZapLeavesFlagOnPinnedPageAndUnpinFreesIt) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  madvise_dontneed(w.env, mm, kA, kA + 1);
  EXPECT_TRUE(pte_none(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p)) << "zap leaves PG_anon_exclusive set";
  EXPECT_EQ(page_mapcount(p), 0);
  EXPECT_EQ(page_ref_count(p), GUP_PIN_COUNTING_BIAS);
  EXPECT_EQ(w.dma_read(p), 42u);
  unpin_user_page(w.env, p);  // sanity_check_pinned_pages passes: no I1
  EXPECT_EQ(w.sink.total(), 0u) << w.violations();
  EXPECT_TRUE(PageBuddy(p));
  EXPECT_FALSE(PageAnon(p)) << "free resets mapping";
  EXPECT_FALSE(excl(p)) << "free clears the flag (AT_PREP)";
  w.finish({&mm});
}

TEST_P(Paths, MunmapFreesPagesAndPageTables) {
  world w(GetParam());
  mm_struct mm(w.m);
  mmap_region(w.env, mm, 0, 512, kRW);  // the table is freed only for a whole PMD
  ASSERT_TRUE(w.write(mm, kA, 42));
  ASSERT_TRUE(w.write(mm, 300, 43));
  const pmd_t pmd = w.pmd(mm, kA);
  ASSERT_TRUE(pmd_table(pmd));
  page *p = w.page_at(mm, kA);
  do_munmap(w.env, mm, 0, 512);
  EXPECT_TRUE(pmd_none(w.pmd(mm, kA)));
  EXPECT_EQ(w.m.tables[pmd_table_index(pmd)].in_use.load(), 0);
  EXPECT_EQ(mm.find_vma(kA), nullptr);
  EXPECT_TRUE(PageBuddy(p));
  EXPECT_EQ(w.m.mem.nr_free_small(), w.free_small0);
  uint64_t v = 1;
  EXPECT_FALSE(cpu_access(w.env, mm, kA, 0, true, &v)) << "SIGSEGV after munmap";
  w.finish({&mm});
}

INSTANTIATE_TEST_SUITE_P(Gen, Paths, ::testing::Values(generation::v5_19, generation::v6_2),
                         [](const ::testing::TestParamInfo<generation> &i) {
                           return testing::gen_ident(i.param);
                         });

}  // namespace
}  // namespace anonx
