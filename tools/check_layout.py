#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_layout.py ANONX_STRESS: the house rules, checked on the tracked tree.

1. Every scenario anonx-stress lists stands, quoted, in exactly one source
   file outside tests/ (harness/registry.cc), and in no file of core/.
2. Layers: no arrow up. core/ includes only core/ headers; harness/ only
   core/ and harness/; the back ends (stress/, check/, bench/) none of each
   other's; no "../" include anywhere.
3. Outside core/, no source file over 600 lines (core/ keeps one header per
   kernel file).
4. No file cites a document that is not in the repository.
5. An SPDX line in every source file; a LICENSE.
6. README.md at most 250 lines; a README.md in each top folder.
7. results/ holds no generated HTML.
Exit 0 when every rule holds, 1 with one line per breach."""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = re.compile(r"(\.(h|cc|in|py|sh|sbatch|litmus)|meson\.build|meson_options\.txt|^anonx|\.ci/run)$")
FOLDERS = ["core", "harness", "stress", "check", "bench", "tools", "tests"]
# who may include whom (by folder of the included header)
ALLOWED = {
    "core": {"core"},
    "harness": {"core", "harness"},
    "stress": {"core", "harness", "stress"},
    "check": {"core", "harness", "check"},
    "bench": {"core", "bench"},
    "tests": {"core", "harness", "stress", "tests"},
}
ABSENT = re.compile(r"kernel-protocol|perf-anchors|\.\./shared|ARCHITECTURE\.md|style-anchors|"
                    r"peers\.md|relacy-notes|libclang-notes|§")


def tracked():
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [p for p in out.stdout.decode().split("\0") if p and os.path.isfile(os.path.join(ROOT, p))]


def text(p):
    with open(os.path.join(ROOT, p), errors="replace") as f:
        return f.read()


def main():
    if len(sys.argv) != 2:
        print("usage: check_layout.py ANONX_STRESS", file=sys.stderr)
        return 2
    listing = json.loads(subprocess.run([sys.argv[1], "--list", "--json"], capture_output=True,
                                        check=True, text=True).stdout)
    files = tracked()
    sources = [p for p in files if SOURCE.search(p) and not p.startswith("results/")]
    bad = []
    # 1. the registry
    for s in listing["scenarios"]:
        q = re.compile(r"[\"']" + re.escape(s["name"]) + r"[\"']")
        where = [p for p in sources if not p.startswith("tests/") and q.search(text(p))]
        if len(where) != 1:
            bad.append(f"scenario '{s['name']}' is quoted in {len(where)} source files outside "
                       f"tests/: {', '.join(where) or 'none'}")
        for p in where:
            if p.startswith("core/"):
                bad.append(f"scenario '{s['name']}' is named in {p}")
        for p in sources:
            if p.startswith("core/") and re.search(r"\b" + re.escape(s["name"]) + r"\b", text(p)):
                bad.append(f"scenario '{s['name']}' is named in {p}")
    # 2. layers
    headers = {}
    for p in files:
        top = p.split("/")[0]
        if p.endswith(".h") and top in ALLOWED:
            headers.setdefault(os.path.basename(p), set()).add(top)
    for p in sources:
        top = p.split("/")[0]
        if top not in ALLOWED or not p.endswith((".h", ".cc")):
            continue
        for inc in re.findall(r'^#include "([^"]+)"', text(p), re.M):
            if "../" in inc:
                bad.append(f"{p}: #include \"{inc}\" reaches out of its folder")
                continue
            homes = headers.get(os.path.basename(inc))
            if not homes or top in homes:
                continue  # generated (version.h) or its own
            if not homes & ALLOWED[top]:
                bad.append(f"{p}: #include \"{inc}\" from {'/'.join(sorted(homes))}/, above "
                           f"or beside {top}/")
    for p in files:
        if p.endswith("meson.build") and "../" in text(p) and "include_directories" in text(p):
            for m in re.findall(r"include_directories\('([^']*\.\./[^']*)'\)", text(p)):
                bad.append(f"{p}: include_directories('{m}') reaches out of its folder")
    # 3. sizes
    for p in sources:
        if p.startswith("core/"):
            continue
        n = text(p).count("\n")
        if n > 600:
            bad.append(f"{p}: {n} lines (outside core/, at most 600)")
    # 4. documents not in the repository
    for p in files:
        if p.startswith("results/") and p.endswith(".json"):
            continue  # recorded reports quote the sources of their day
        if p == "tools/check_layout.py":
            continue
        for i, line in enumerate(text(p).split("\n"), 1):
            if ABSENT.search(line):
                bad.append(f"{p}:{i}: cites a document that is not in the repository")
    # 5. licence
    if "LICENSE" not in files:
        bad.append("no LICENSE")
    for p in sources:
        if "SPDX-License-Identifier: GPL-2.0-only" not in "\n".join(text(p).split("\n")[:3]):
            bad.append(f"{p}: no SPDX line in its first three lines")
    # 6. READMEs
    n = text("README.md").count("\n")
    if n > 250:
        bad.append(f"README.md: {n} lines (at most 250)")
    for d in FOLDERS:
        if f"{d}/README.md" not in files:
            bad.append(f"{d}/: no README.md")
    # 7. results/
    for p in files:
        if p.startswith("results/") and p.endswith((".html", ".htm", ".png", ".svg")):
            bad.append(f"{p}: generated output in results/ (./anonx report builds it)")
    for b in bad:
        print("check_layout:", b)
    print(f"check_layout: {len(listing['scenarios'])} scenarios, {len(sources)} source files, "
          f"{len(bad)} breaches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
