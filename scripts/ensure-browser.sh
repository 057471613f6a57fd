#!/bin/sh
# Makes sure Playwright can start a Chromium, in this order:
#   1. a Chromium already here (NETSWORD_CHROMIUM, Debian's chromium, Playwright's own);
#   2. as root with apt-get: Debian's chromium + fonts-noto-cjk (CJK glyphs in screenshots, captions and
#      the PDF records; installed whenever missing), and chromium-headless-shell (optional, cheaper evidence
#      screenshots);
#   3. Playwright's own browser download (needs internet);
#   4. otherwise a clear message: the static pages still crawl, browser pages are skipped.
BIN=${1:-.venv/bin}
found() { "$BIN/python" -c 'from crawler.browser import find_chromium; import sys; sys.exit(0 if find_chromium() else 1)'; }
# Optional: Debian's chromium-headless-shell renders the evidence screenshots with ~1/4 less CPU
# (pipelines/evidence/render.py); without it they are rendered by the crawl's Chromium.
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 && ! command -v chromium-headless-shell >/dev/null 2>&1; then
  echo "netsword: installing Debian's chromium-headless-shell (optional, for evidence screenshots) ..."
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell >/dev/null; } \
    || echo "netsword: chromium-headless-shell not installed; screenshots use the crawl's Chromium"
fi
# The CJK font: Chinese in screenshots, in the caption bar of evidence screenshots and in the PDFs of the
# extraction record and the handover notice (leads/records). Needed even when a Chromium is already here.
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1 && ! fc-list 2>/dev/null | grep -q "Noto Sans CJK"; then
  echo "netsword: installing the CJK fonts (fonts-noto-cjk) ..."
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; } \
    || echo "netsword: fonts-noto-cjk not installed; Chinese text in captions and PDFs may show as boxes"
fi
if found; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "netsword: installing Debian's chromium and CJK fonts (apt-get) ..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null
  if found; then exit 0; fi
fi
echo "netsword: trying Playwright's own Chromium (needs internet) ..."
if "$BIN/playwright" install chromium >/dev/null 2>&1 && found; then exit 0; fi
cat >&2 <<'MSG'
netsword: no Chromium found. Pages marked `render: browser` in a site profile cannot be fetched.
  Debian/Ubuntu:  sudo apt-get install chromium fonts-noto-cjk
  elsewhere:      .venv/bin/playwright install chromium
  or point NETSWORD_CHROMIUM at a Chromium/Chrome binary.
MSG
exit 0
