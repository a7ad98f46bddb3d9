#!/bin/sh
# Builds the ns driver's small native helpers (native/*.c) into dist/native/. Without a C compiler
# or off Linux it builds nothing and says so: the ns driver then reports itself unavailable.
set -eu
cd "$(dirname "$0")/.."
[ "$(uname -s)" = Linux ] || exit 0
if ! command -v cc >/dev/null 2>&1; then
  echo "build-native: no C compiler (cc): the ns driver's helpers are not built" >&2
  exit 0
fi
mkdir -p dist/native
for src in native/*.c; do
  out="dist/native/nimbus-$(basename "$src" .c)"
  if [ ! -e "$out" ] || [ "$src" -nt "$out" ]; then
    cc -O2 -Wall -Wextra -Werror -o "$out" "$src"
  fi
done
