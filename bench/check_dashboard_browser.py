#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""check_dashboard_browser.py --dashboard DASHBOARD_PY --fixtures DIR --out DIR:
the dashboard as a browser shows it (meson test 'dashboard_browser', suites
report and long; ./anonx test --all installs Debian's chromium for it).

Builds the dashboard from the fixtures, loads index.html in headless
Chromium from disk (no network: --no-proxy-server, the page fetches
nothing) and reads the DOM after the load event: the page's own inline
check writes <body data-images="N decoded[; broken: SRC ...]">. Passes when
every <img> of the page decoded (N equals the number of <img> tags and no
image is broken), the contention heatmap among them, and writes a
screenshot of the page (OUT/screenshot.png) for a person to look at."""
import argparse
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile

BROWSERS = ('chromium', 'chromium-browser', 'google-chrome')


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--dashboard', required=True)
    p.add_argument('--fixtures', required=True)
    p.add_argument('--out', required=True)
    a = p.parse_args()
    browser = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    if not browser:
        print('FAIL: no headless browser (%s): ./anonx test --all installs Debian\'s chromium'
              % ', '.join(BROWSERS))
        return 1
    shutil.rmtree(a.out, ignore_errors=True)
    r = subprocess.run(['/usr/bin/python3', a.dashboard, '--results', a.fixtures, '--out', a.out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print('FAIL: dashboard.py exited with %d: %s' % (r.returncode, r.stderr.strip()))
        return 1
    index = os.path.abspath(os.path.join(a.out, 'index.html'))
    with open(index) as f:
        page = f.read()
    tags = len(re.findall(r'<img\b', page))
    with tempfile.TemporaryDirectory() as profile:
        common = [browser, '--headless', '--disable-gpu', '--no-sandbox', '--no-proxy-server',
                  '--user-data-dir=' + profile, '--virtual-time-budget=10000']
        dom = subprocess.run(common + ['--dump-dom', 'file://' + index], capture_output=True,
                             text=True, timeout=120)
        shot = os.path.join(os.path.abspath(a.out), 'screenshot.png')
        subprocess.run(common + ['--window-size=1280,4000', '--screenshot=' + shot,
                                 'file://' + index], capture_output=True, timeout=120)
    m = re.search(r'<body[^>]*\bdata-images="([^"]*)"', dom.stdout)
    if not m:
        print('FAIL: %s rendered no data-images attribute (exit %d): %s' %
              (os.path.basename(browser), dom.returncode, dom.stderr.strip()[-300:]))
        return 1
    said = html.unescape(m.group(1))
    n = int(said.split()[0])
    ok = n == tags and 'broken' not in said and 'contention_heatmap.png' in page
    print('%s: %s: %s of %d <img> tags (%s)' % ('ok' if ok else 'FAIL', os.path.basename(browser),
                                                 said, tags, 'screenshot: ' + shot
                                                 if os.path.isfile(shot) else 'no screenshot'))
    return 0 if ok and os.path.isfile(shot) else 1


if __name__ == '__main__':
    sys.exit(main())
