#!/usr/bin/env bash
# Stop and start one engine of the harness again, with the same settings,
# and wait until it answers /_ping. Used by fault tests.
#
# Usage: restart-engine.sh old|new [--kill]
#   --kill  stop dockerd with SIGKILL (a crash) instead of SIGTERM (a clean
#           shutdown, which stops running containers first: can take ~10 s).
# DOCKER_MIN_API_VERSION, if set in the environment, is passed to the
# restarted dockerd (e.g. DOCKER_MIN_API_VERSION=1.50 to test "client version
# too old"); restart again without it to get the default back.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name=${1:-}
sig=TERM
case "$name" in
  old | new) ;;
  *) die "usage: restart-engine.sh old|new [--kill]" ;;
esac
[ "${2:-}" = --kill ] && sig=KILL
[ "$(id -u)" = 0 ] || die "restart-engine.sh must run as root"
check_state_dir_sane
[ -f "$DC_S/env.json" ] || die "harness is not up ($DC_S/env.json missing): run test/harness/up.sh"
[ -e "/var/run/netns/$(engine_ns "$name")" ] || die "netns $(engine_ns "$name") missing: run test/harness/up.sh"
harness_lock

t0=$SECONDS
log "restarting engine '$name' (SIG$sig)"
stop_dockerd "$name" "$sig" 40
if ! containerd_alive "$name"; then
  warn "containerd of engine '$name' is not running: starting it again"
  start_containerd "$name"
fi
if ! start_dockerd "$name"; then
  show_log "$(engine_dir "$name")/dockerd.log" 30
  die "engine '$name' did not come back"
fi
if [ "$name" = new ]; then
  T="$DC_S/tls/client"
  tls_ok() { [ "$(curl -s --max-time 5 --cacert "$T/ca.pem" --cert "$T/cert.pem" --key "$T/key.pem" "https://127.0.0.1:$DC_TLS_PORT/_ping")" = OK ]; }
  wait_until 20 "mTLS endpoint" tls_ok || die "engine 'new' is back on its unix socket but not on the mTLS endpoint"
fi
# The engine is a swarm manager (up.sh): its swarm comes back from its data root; wait for the manager.
swarm_init "$name" || die "engine '$name' is back but not a swarm manager again"
log "engine '$name' answers /_ping again after $((SECONDS - t0))s"
