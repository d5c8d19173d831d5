#!/usr/bin/env bash
# Sets up and runs Rotor on a fresh machine: pinned pnpm, dependencies, then proxy + worker.
# Redis comes from REDIS_URL (default redis://127.0.0.1:6379; when unset and nothing answers there,
# Rotor starts redis-server itself, or runs on its in-memory store, and says which). With no provider
# keys in the environment (OPENAI_KEYS, ANTHROPIC_KEYS) or config, Rotor starts in demo mode.
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION=9.15.9
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "installing pnpm $PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null
fi
pnpm install --frozen-lockfile
./scripts/quickstart-redis.sh
exec pnpm start
