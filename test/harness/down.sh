#!/usr/bin/env bash
# Stop everything test/harness/up.sh started (dockerd, containerd and shims,
# containers, registries, search stubs, socat forwarders, nginx, sshds), unmount
# whatever is mounted under the state dir, delete the dc-old/dc-new network
# namespaces and the state dir ${DC_HARNESS_DIR:-/tmp/dch}.
# Idempotent; works on leftovers of a run whose processes were all killed -9.
# DC_HARNESS_KEEP_LOGS=DIR copies the logs to DIR before deleting the state dir.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "$(id -u)" = 0 ] || die "down.sh must run as root"
check_state_dir_sane
harness_lock
if [ -n "${DC_HARNESS_KEEP_LOGS:-}" ] && [ -d "$DC_S" ]; then
  mkdir -p "$DC_HARNESS_KEEP_LOGS"
  (cd "$DC_S" && find . -maxdepth 3 -name '*.log' -type f -print0 |
    xargs -0 -r cp --parents -t "$DC_HARNESS_KEEP_LOGS") 2>/dev/null || true
fi
teardown_all
rm -f "${DC_S}.lock"
log "harness down ($DC_S removed)"
