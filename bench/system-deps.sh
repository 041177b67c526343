#!/usr/bin/env bash
# Installs what `make bench` needs beyond `make test`: the wrk HTTP load generator (Debian
# package `wrk`). Safe to run again: it installs nothing when wrk is already there.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian package: wrk; run 'make bench' as root or 'apt-get install wrk'" >&2
  exit 1
fi
echo "installing Debian package: wrk"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q wrk
