#!/bin/sh
# System packages, installed when missing: Debian's chromium for the browser test
# (tests/test_browser.py) and bubblewrap, the sandbox grading runs student notebooks in
# (aecourse/sandbox.py). `make test` installs both, `make autograde` bubblewrap; the arguments
# name which (default: both). Needs root and apt-get; otherwise the tests that use them are
# skipped, and grading says that it is not isolated.
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
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q $missing >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null; }
