// SPDX-License-Identifier: GPL-2.0-only
// tsan_dma_unpinned: a TSan-only mutant. A device keeps writing a page
// after its pin was dropped (a driver that unpins before the DMA is done).
// Page contents are plain memory that the allocator initialises with plain
// stores (page_alloc.h), as the kernel's are: the late DMA store races with
// the clear_page of the frame's next owner, and ThreadSanitizer reports it.
// The oracles cannot see this: no invariant on the flag words is broken.
//   tsan_dma_unpinned mutant   -> TSan must report a data race
//   tsan_dma_unpinned correct  -> the DMA completes before the unpin: clean
// The two threads are sequenced with relaxed flags, which give TSan no
// happens-before edge: the report depends on the missing synchronisation,
// not on timing.
#include <cstring>
#include <thread>

#include "anonx.h"
#include "run_env.h"

using namespace anonx;

namespace {
struct nohooks : step_hooks {
  void at(const char *) override {}
};
std::atomic<int> stage{0};
void wait_stage(int s) {
  while (stage.load(std::memory_order_relaxed) < s) std::this_thread::yield();
}
}  // namespace

int main(int argc, char **argv) {
  if (argc != 2 || (std::strcmp(argv[1], "mutant") && std::strcmp(argv[1], "correct"))) {
    std::fprintf(stderr, "usage: tsan_dma_unpinned mutant|correct\n");
    return 2;
  }
  const bool mutant = !std::strcmp(argv[1], "mutant");
  machine m(4096, 1, 2);
  mm_struct mm(m);
  cpu_stats st[2];
  nohooks h;
  stress_env env[2];
  for (unsigned i = 0; i < 2; i++) {
    env[i].m = &m;
    env[i].cpu = i;
    env[i].stats = &st[i];
    env[i].hooks = &h;
  }
  std::thread device([&] {
    wait_stage(1);
    page *p = nullptr;
    if (pin_user_pages_fast(env[0], mm, 3, 1, FOLL_WRITE | FOLL_LONGTERM, &p) != 1) std::abort();
    if (!mutant) m.mem.write_word(p->pfn, 0, 0xD0A);  // DMA while pinned
    unpin_user_page(env[0], p);
    stage.store(2, std::memory_order_relaxed);
    wait_stage(3);
    if (mutant) m.mem.write_word(p->pfn, 0, 0xD0A);  // DMA after the unpin
    stage.store(4, std::memory_order_relaxed);
  });
  std::thread process([&] {
    uint64_t v = 1;
    mmap_region(env[1], mm, 0, 16, VM_READ | VM_WRITE);
    cpu_access(env[1], mm, 3, 0, true, &v);
    stage.store(1, std::memory_order_relaxed);
    wait_stage(2);
    do_munmap(env[1], mm, 0, 16);    // the last reference goes: the frame is free
    page *q = env[1].alloc_page(0);  // and reused by its next owner
    m.mem.clear_page(q->pfn);
    stage.store(3, std::memory_order_relaxed);
    wait_stage(4);
    env[1].put_page(q);
  });
  device.join();
  process.join();
  return 0;
}
