#!/bin/sh
# System packages, installed when missing: Debian's chromium for the browser test
# (tests/test_browser.py) and bubblewrap, the sandbox grading runs student notebooks in
# (aecourse/teach/sandbox.py). `make test` installs both, `make autograde` bubblewrap; the arguments
# name which (default: both). Needs root and apt-get; otherwise the tests that use them are
# skipped, and grading refuses to run submissions (unless --without-isolation).
missing=""
for package in ${@:-chromium bubblewrap}; do
    command="$package"; [ "$package" = bubblewrap ] && command=bwrap
    command -v "$command" >/dev/null || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "note:$missing not installed, and apt-get needs root: what uses them is skipped"
    exit 0
fi
echo "Installing$missing (Debian packages, once)"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 &&
    apt-get install -y -q $missing >/dev/null 2>&1; } || echo "note: apt-get could not install$missing"
