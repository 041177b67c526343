#!/usr/bin/env bash
# Installs the Debian packages the project needs when they are missing: PostgreSQL with PostGIS
# for the machine's PostgreSQL version. Safe to run again: it installs nothing twice.
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

if [ ${#need[@]} -eq 0 ] && [ -n "$pg_major" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${need[*]}; run 'make' as root or install them" >&2
  exit 1
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${need[@]}"
if [ -z "$pg_major" ]; then
  # PostgreSQL itself was missing: now add PostGIS for the version that came with it.
  for v in 17 16 15; do
    if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then pg_major=$v; break; fi
  done
  postgis_ok "$pg_major" || apt-get install -y -q "postgresql-$pg_major-postgis-3"
fi
