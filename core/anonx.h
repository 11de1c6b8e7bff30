// SPDX-License-Identifier: GPL-2.0-only
// anonx.h: the whole model, for the harness, the tests and the benchmarks.
#pragma once

#include "fork.h"
#include "gup.h"
#include "khugepaged.h"
#include "ksm.h"
#include "memory.h"
#include "migrate.h"
#include "mprotect.h"
#include "vmscan.h"
