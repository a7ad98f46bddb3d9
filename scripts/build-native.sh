#!/bin/sh
# Builds the native parts (native/) into dist/native/: the ns driver's small helpers (native/*.c,
# programs) and the server's addon (native/*.cc, against the headers of the node that runs it).
# Without a compiler, off Linux or without node's headers it builds nothing and says so: the ns
# driver then reports itself unavailable, and the server gives memory back with gc() alone.
set -eu
cd "$(dirname "$0")/.."
[ "$(uname -s)" = Linux ] || exit 0
mkdir -p dist/native
if command -v cc >/dev/null 2>&1; then
  for src in native/*.c; do
    out="dist/native/nimbus-$(basename "$src" .c)"
    if [ ! -e "$out" ] || [ "$src" -nt "$out" ]; then
      cc -O2 -Wall -Wextra -Werror -o "$out" "$src"
    fi
  done
else
  echo "build-native: no C compiler (cc): the ns driver's helpers are not built" >&2
fi
headers=$(node -p "require('node:path').resolve(process.execPath, '../../include/node')")
if command -v c++ >/dev/null 2>&1 && [ -e "$headers/node_api.h" ]; then
  for src in native/*.cc; do
    out="dist/native/nimbus-$(basename "$src" .cc).node"
    if [ ! -e "$out" ] || [ "$src" -nt "$out" ]; then
      c++ -O2 -Wall -Wextra -Werror -std=c++17 -shared -fPIC -isystem "$headers" -o "$out" "$src"
    fi
  done
else
  echo "build-native: no C++ compiler (c++) or no node headers in $headers: the server's addon is not built" >&2
fi
