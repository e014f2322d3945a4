#!/bin/sh
# Debian's chromium for the browser test (tests/test_browser.py), installed by `make test`
# when it is missing. Needs root and apt-get; otherwise the browser test is skipped.
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "note: chromium is not installed and apt-get needs root: the browser test will be skipped"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
