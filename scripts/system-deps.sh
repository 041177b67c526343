#!/usr/bin/env bash
# Installs the Debian packages the project needs when they are missing: PostgreSQL with PostGIS
# for the machine's PostgreSQL version, nginx and Redis for the serving stack, and what the cardholder app and its screen tests need
# (an X server for tests, Mesa's OpenGL, a font with Chinese glyphs). Safe to run again: it
# installs nothing twice.
set -euo pipefail

need=()
pg_major=""
for v in 17 16 15; do
  if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then pg_major=$v; break; fi
done
if [ -z "$pg_major" ]; then
  need+=(postgresql)
fi
postgis_ok() { ls /usr/share/postgresql/"$1"/extension/postgis.control >/dev/null 2>&1; }
if [ -n "$pg_major" ] && ! postgis_ok "$pg_major"; then
  need+=("postgresql-$pg_major-postgis-3")
fi

# The serving stack: nginx in front of gunicorn, a private Redis for shared rate-limit counts,
# openssl for the TLS test's self-signed certificate.
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in nginx redis-server openssl; do
  installed "$pkg" || { [ "$pkg" = nginx ] && [ -x /usr/sbin/nginx ]; } || need+=("$pkg")
done

# The Kivy app: Xvfb runs its screen tests; SDL2 (bundled in Kivy's wheel) loads libX11 and
# libGL at run time, which Mesa's llvmpipe serves without a GPU; Noto Sans CJK shows English and
# Simplified Chinese in one family with a real bold face.
for pkg in xvfb xauth libx11-6 libxext6 libgl1 libgl1-mesa-dri libegl1 fonts-noto-cjk; do
  installed "$pkg" || need+=("$pkg")
done
# The API docs page's browser test: Debian's Chromium, headless. Node's npm fetches the docs
# page's Swagger UI from the npm registry (make docs-assets).
installed chromium || need+=(chromium)
command -v node >/dev/null 2>&1 || installed nodejs || need+=(nodejs)
command -v npm >/dev/null 2>&1 || installed npm || need+=(npm)
# Kivy's multitouch input provider wants libmtdev (the package was renamed in Debian 13).
want_mtdev=0
installed libmtdev1 || installed libmtdev1t64 || want_mtdev=1

if [ ${#need[@]} -eq 0 ] && [ -n "$pg_major" ] && [ "$want_mtdev" = 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  if [ ${#need[@]} -eq 0 ]; then
    echo "note: libmtdev1 is missing; Kivy works without it (no multitouch devices)" >&2
    exit 0
  fi
  echo "missing Debian packages: ${need[*]}; run 'make' as root or install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
if [ "$want_mtdev" = 1 ]; then
  for pkg in libmtdev1t64 libmtdev1; do
    if apt-cache show "$pkg" >/dev/null 2>&1; then need+=("$pkg"); break; fi
  done
fi
echo "installing Debian packages: ${need[*]}"
apt-get install -y -q "${need[@]}"
if [ -z "$pg_major" ]; then
  # PostgreSQL itself was missing: now add PostGIS for the version that came with it.
  for v in 17 16 15; do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then pg_major=$v; break; fi
  done
  postgis_ok "$pg_major" || apt-get install -y -q "postgresql-$pg_major-postgis-3"
fi
# The project starts its own nginx and Redis under var/. The machine-wide services these packages
# start on a systemd machine (nginx's default site on port 80 of every address) are not wanted.
for svc in nginx redis-server; do
  if [[ " ${need[*]} " == *" $svc "* ]] && command -v systemctl >/dev/null \
      && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl disable --now "$svc" || true
  fi
done
