#!/usr/bin/env bash
# Debian's chromium and chromium-driver for the web UI's browser test (tests/ui/test_browser.py).
# Installs them only when chromedriver is missing and apt-get is usable as root; never fails: where
# they cannot be installed, the browser test skips and says why.
if command -v chromedriver >/dev/null 2>&1 && { command -v chromium >/dev/null 2>&1 \
        || command -v chromium-browser >/dev/null 2>&1; }; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
        chromium-driver; } >/dev/null 2>&1 \
        || echo "install_chromium: apt-get could not install chromium; the browser test will skip"
else
    echo "install_chromium: no chromium here and no apt-get as root; the browser test will skip"
fi
exit 0
