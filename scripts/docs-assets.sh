#!/usr/bin/env bash
# Fetches Swagger UI (npm package swagger-ui-dist) for the API docs page into vendor/swagger-ui/,
# which git ignores: the app serves it from there, so nothing is downloaded at run time.
# Usage: scripts/docs-assets.sh VERSION SHA512-INTEGRITY DEST
set -euo pipefail

version=$1 integrity=$2 dest=$3
if [ -f "$dest/VERSION" ] && [ "$(cat "$dest/VERSION")" = "$version" ]; then
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# npm pack checks the tarball against the registry's integrity; we check it against the pin.
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null)
tarball="$work/swagger-ui-dist-$version.tgz"
got=$(python3 -c 'import base64, hashlib, sys
print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$tarball")
if [ "$got" != "$integrity" ]; then
  echo "swagger-ui-dist $version: integrity $got, expected $integrity" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work"
rm -rf "$dest"
mkdir -p "$dest"
for f in swagger-ui-bundle.js swagger-ui.css favicon-32x32.png LICENSE NOTICE; do
  cp "$work/package/$f" "$dest/"
done
echo "$version" > "$dest/VERSION"
echo "Swagger UI $version in $dest"
