// SPDX-License-Identifier: GPL-2.0-only
// paths_migrate_test.cc: migration (mm/rmap.c try_to_migrate_one,
// mm/migrate.c remove_migration_pte, 6.1): the migration entry keeps an
// exclusive page exclusive (WRITE or READ_EXCLUSIVE) and a shared one
// shared, and a pinned page is not migrated.
#include <gtest/gtest.h>

#include "paths_rig.h"

namespace anonx {
namespace {

using namespace paths_rig;

TEST_P(Paths, MigrationOfUnpinnedPageMovesItAndKeepsExclusivity) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(migrate_page(w.env, p));
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, nullptr);
  EXPECT_NE(np, p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA))) << "WRITE migration entry -> writable";
  EXPECT_TRUE(excl(np));
  EXPECT_EQ(page_mapcount(np), 1);
  EXPECT_EQ(page_ref_count(np), 1);
  EXPECT_TRUE(PageBuddy(p)) << "the old page is freed";
  EXPECT_EQ(w.read(mm, kA), 42u);
  EXPECT_EQ(w.st.migrations, 1u);
  w.finish({&mm});
}

TEST_P(Paths, MigrationOfReadOnlyExclusivePageKeepsExclusivity) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_EQ(mprotect(w.env, mm, 0, 16, false), 0);
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(migrate_page(w.env, p));
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, p);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(np)) << "READ_EXCLUSIVE migration entry";
  ASSERT_EQ(mprotect(w.env, mm, 0, 16, true), 0);
  ASSERT_TRUE(w.write(mm, kA, 43));
  EXPECT_EQ(w.page_at(mm, kA), np);
  w.finish({&mm});
}

TEST_P(Paths, MigrationOfSharedPageKeepsItShared) {
  world w(GetParam());
  mm_struct mm(w.m), child(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  ASSERT_EQ(dup_mmap(w.env, child, mm), 0);
  page *p = w.page_at(mm, kA);
  ASSERT_TRUE(migrate_page(w.env, p));
  page *np = w.page_at(mm, kA);
  ASSERT_NE(np, p);
  EXPECT_EQ(w.page_at(child, kA), np);
  EXPECT_FALSE(excl(np)) << "READ migration entries";
  EXPECT_EQ(page_mapcount(np), 2);
  EXPECT_FALSE(pte_write(w.entry(mm, kA)));
  EXPECT_FALSE(pte_write(w.entry(child, kA)));
  w.finish({&child, &mm});
}

TEST_P(Paths, MigrationOfPinnedPageFails) {
  world w(GetParam());
  mm_struct mm(w.m);
  ASSERT_TRUE(w.populate(mm, 42));
  page *p = w.pin(mm, kA, kLongRW);
  EXPECT_FALSE(migrate_page(w.env, p));
  EXPECT_EQ(w.page_at(mm, kA), p);
  EXPECT_TRUE(pte_write(w.entry(mm, kA)));
  EXPECT_TRUE(excl(p));
  EXPECT_EQ(w.st.migrations, 0u);
  unpin_user_page(w.env, p);
  w.finish({&mm});
}

}  // namespace
}  // namespace anonx
