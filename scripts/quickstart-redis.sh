#!/usr/bin/env bash
# Quick start, Redis step. When REDIS_URL is unset, nothing listens on 127.0.0.1:6379 and there is no
# redis-server on the PATH, Rotor would run as one process on its in-memory store (state lost at stop).
# This offers to install redis-server with the system's package manager first, so that Rotor can start a
# real Redis for itself (data in .rotor/redis). A system package is the operator's call, so it asks;
# ROTOR_INSTALL_REDIS=yes installs without asking, =no never installs. With no terminal to ask on, it
# says what to run and goes on (Rotor then starts on its in-memory store and says so).
set -uo pipefail
[ -n "${REDIS_URL:-}" ] && exit 0
command -v redis-server >/dev/null 2>&1 && exit 0
# Something listens on the default address: Rotor tries that Redis first.
(exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && exit 0

if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo "; else sudo="-"; fi
install=""
if [ "$sudo" != "-" ]; then
  if command -v apt-get >/dev/null 2>&1; then install="${sudo}apt-get update -qq && ${sudo}apt-get install -y -qq redis-server"
  elif command -v dnf >/dev/null 2>&1; then install="${sudo}dnf install -y redis"
  elif command -v apk >/dev/null 2>&1; then install="${sudo}apk add redis"
  elif command -v pacman >/dev/null 2>&1; then install="${sudo}pacman -S --noconfirm redis"
  fi
fi
command -v brew >/dev/null 2>&1 && install="brew install redis"
if [ -z "$install" ]; then
  echo "no redis-server on the PATH and no package manager this script can use: Rotor runs on its in-memory store"
  exit 0
fi

answer="${ROTOR_INSTALL_REDIS:-ask}"
if [ "$answer" = ask ]; then
  if [ -t 0 ] && [ -t 1 ]; then
    read -r -p "No Redis found. Install redis-server with \`$install\`? [Y/n] " reply
    case "$reply" in [nN]*) answer=no ;; *) answer=yes ;; esac
  else
    echo "no redis-server on the PATH: Rotor runs on its in-memory store (state lost when it stops)."
    echo "  for a real Redis: $install   (or ROTOR_INSTALL_REDIS=yes ./scripts/quickstart.sh)"
    exit 0
  fi
fi
[ "$answer" = yes ] || exit 0
echo "installing redis-server: $install"
if ! bash -c "$install"; then
  echo "installing redis-server failed: Rotor runs on its in-memory store"
fi
exit 0
