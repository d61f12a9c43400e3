#!/usr/bin/env bash
# Debian's Chromium (never a downloaded browser) for `make test`'s check of the built book.
# Installs it with apt-get when it is missing and the user is root or has passwordless sudo;
# otherwise says in one line what to install, and fails.
set -euo pipefail

command -v chromium > /dev/null && exit 0

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo > /dev/null && sudo -n true 2> /dev/null; then
  as_root=(sudo -n)
else
  echo "make test needs Debian's chromium: run 'sudo apt-get install chromium chromium-driver' (or install them as root), then make test again" >&2
  exit 1
fi

"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver > /dev/null
if ! command -v chromium > /dev/null; then
  echo "apt-get installed chromium but no 'chromium' command is on PATH" >&2
  exit 1
fi
