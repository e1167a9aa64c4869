#!/usr/bin/env bash
# Fetch the web app's third-party browser libraries from npm at pinned versions, with their
# licenses, into the package (shipped) and tests/vendor (test-only). Re-run after changing a
# version here; commit the result. Needs `npm` (only to run this script, never to install
# or serve zdrgate). Each choice is explained in docs/decisions.md.
set -euo pipefail
cd "$(dirname "$0")/.."
STATIC=src/zdrgate/web/static/vendor
TESTS=tests/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name@version  source-file-in-package  destination
FILES=(
  "marked@18.2.1 lib/marked.esm.js $STATIC/marked/marked.esm.js"
  "dompurify@3.5.0 dist/purify.es.mjs $STATIC/dompurify/purify.es.mjs"
  "katex@0.19.1 dist/katex.min.js $STATIC/katex/katex.min.js"
  "axe-core@4.14.1 axe.min.js $TESTS/axe-core/axe.min.js"
)

for entry in "${FILES[@]}"; do
  read -r spec src dest <<<"$entry"
  name=${spec%@*}
  dir="$work/$name"
  if [ ! -d "$dir" ]; then
    mkdir -p "$dir"
    tarball=$(cd "$work" && npm pack --silent "$spec" | tail -1)
    tar xzf "$work/$tarball" -C "$dir"
  fi
  mkdir -p "$(dirname "$dest")"
  # The source-map comment would make a browser ask for a file that is not shipped.
  sed '/^\/\/# sourceMappingURL=/d' "$dir/package/$src" >"$dest"
  for license in "$dir"/package/LICENSE*; do
    cp "$license" "$(dirname "$dest")/"
  done
  echo "$spec $src sha256:$(sha256sum "$dest" | cut -d' ' -f1)" >>"$work/manifest"
done
sort "$work/manifest" >"$STATIC/VERSIONS"
grep axe-core "$STATIC/VERSIONS" >"$TESTS/VERSIONS"
sed -i '/axe-core/d' "$STATIC/VERSIONS"
echo "vendored:"; cat "$STATIC/VERSIONS" "$TESTS/VERSIONS"
