#!/usr/bin/env bash
# Podman's Docker-compatible API for the test harness, under ${DC_HARNESS_DIR:-/tmp/dch}/podman:
#   podman system service on a private socket, in its own network namespace,
#   with its own storage, run root and containers.conf (nothing shared with the
#   machine's Podman), the harness busybox image imported as
#   localhost/dc-busybox:latest, and a registry (htpasswd auth, the harness'
#   credentials) on 127.0.0.1:5000 and an open one on 127.0.0.1:5002 (what
#   Podman's search can search) inside that namespace.
#
# Usage: podman.sh up | down
#   up   starts afresh over any leftovers and writes podman/env.json
#   down stops everything it started and removes podman/
# up.sh calls "up" after the Engines are up (it reuses their htpasswd and image
# tar); teardown calls "down".
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

P="$DC_S/podman"
PNS="$DC_PREFIX-podman"
PSOCK="$P/podman.sock"
PM_OPEN_REG_PORT=5002     # inside podman's netns: a registry without auth (search)

podman_env() {
  env -u DOCKER_CONFIG CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf" \
    CONTAINERS_REGISTRIES_CONF="$P/registries.conf" "$@"
}

podman_pids() {
  {
    for f in "$DC_S"/run/podman-*.pid; do [ -f "$f" ] && pidfile_pid "$f" && echo; done
    # conmon and container processes live in the namespace; conmon also outlives exec sessions
    [ -e "/var/run/netns/$PNS" ] && ip netns pids "$PNS" 2>/dev/null
    local re
    re=$(printf '%s/' "$P" | sed 's/[.[\*^$+?(){}|]/\\&/g')
    grep -lzE -- "[${re:0:1}]${re:1}" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3
  } | grep -E '^[0-9]+$' | sort -u || true
}

podman_down() {
  local i pids m
  for i in 1 2 3 4 5; do
    pids=$(podman_pids | tr '\n' ' ')
    [ -n "${pids// /}" ] || break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.3
  done
  for i in 1 2 3; do
    m=$(findmnt -rn -o TARGET 2>/dev/null | grep -E "^${P//./\\.}(/|$)" | sort -r || true)
    [ -n "$m" ] || break
    while IFS= read -r t; do [ -n "$t" ] && { umount "$t" 2>/dev/null || umount -l "$t" 2>/dev/null || true; }; done <<<"$m"
  done
  if [ -e "/var/run/netns/$PNS" ]; then
    ip netns delete "$PNS" 2>/dev/null || { umount -l "/var/run/netns/$PNS" 2>/dev/null || true; rm -f "/var/run/netns/$PNS"; }
  fi
  rm -f "$DC_S"/run/podman-*.pid
  [ ! -e "$P" ] || rm -rf --one-file-system "$P" 2>/dev/null || { chattr -R -i "$P" 2>/dev/null || true; rm -rf "$P"; }
}

podman_up() {
  command -v podman >/dev/null || die "podman is not installed (run: bash test/harness/install.sh)"
  [ -f "$DC_S/image/dc-busybox.tar" ] || die "no harness image tar: run up.sh first"
  [ -f "$DC_S/registry/htpasswd" ] || die "no harness htpasswd: run up.sh first"
  podman_down
  mkdir -p "$P"/{root,run,tmp,registry,home}
  cat >"$P/containers.conf" <<EOF
[containers]
# Raising the default ulimits needs CAP_SYS_RESOURCE, which this machine lacks
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
tmp_dir = "$P/tmp"
[network]
network_config_dir = "$P/networks"
EOF
  cat >"$P/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$P/run"
graphroot = "$P/root"
EOF
  cat >"$P/registries.conf" <<EOF
unqualified-search-registries = []
[[registry]]
location = "127.0.0.1:$DC_REG_PORT"
insecure = true
[[registry]]
location = "127.0.0.1:$PM_OPEN_REG_PORT"
insecure = true
EOF
  ip netns add "$PNS"
  ip netns exec "$PNS" ip link set lo up
  # nsenter, not "ip netns exec": the latter remounts /sys and runc then finds no cgroup mount
  spawn podman-service "$P/service.log" \
    env -u DOCKER_CONFIG HOME="$P/home" CONTAINERS_CONF="$P/containers.conf" CONTAINERS_STORAGE_CONF="$P/storage.conf" \
    CONTAINERS_REGISTRIES_CONF="$P/registries.conf" \
    nsenter --net="/var/run/netns/$PNS" podman --tmpdir "$P/tmp" system service --time=0 "unix://$PSOCK"
  pm_ping() { [ "$(curl -s --max-time 3 --unix-socket "$PSOCK" http://d/_ping 2>/dev/null)" = OK ]; }
  wait_until 20 "podman service" pm_ping || { show_log "$P/service.log"; die "podman service did not answer /_ping"; }
  HOME="$P/home" podman_env podman --tmpdir "$P/tmp" import -q "$DC_S/image/dc-busybox.tar" "$DC_IMAGE" >/dev/null ||
    die "podman import of the harness image failed"

  cat >"$P/registry.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $P/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$DC_REG_PORT
  secret: $(openssl rand -hex 16)
auth:
  htpasswd:
    realm: dc-registry
    path: $DC_S/registry/htpasswd
EOF
  spawn podman-registry "$P/registry.log" \
    env -u REGISTRY_HTTP_ADDR nsenter --net="/var/run/netns/$PNS" docker-registry serve "$P/registry.yml"
  reg_up() { [ "$(nsenter --net="/var/run/netns/$PNS" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$DC_REG_PORT/v2/")" = 401 ]; }
  wait_until 20 "registry (podman)" reg_up || { show_log "$P/registry.log"; die "podman's registry did not come up"; }

  # Podman 4.3 searches only v2 registries, through their catalog, and not with the call's
  # credentials: an open registry holding the harness image is what its search can find.
  mkdir -p "$P/open-registry"
  cat >"$P/open-registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $P/open-registry
http:
  addr: 127.0.0.1:$PM_OPEN_REG_PORT
  secret: $(openssl rand -hex 16)
EOF
  spawn podman-open-registry "$P/open-registry.log" \
    env -u REGISTRY_HTTP_ADDR nsenter --net="/var/run/netns/$PNS" docker-registry serve "$P/open-registry.yml"
  open_up() { [ "$(nsenter --net="/var/run/netns/$PNS" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$PM_OPEN_REG_PORT/v2/")" = 200 ]; }
  wait_until 20 "open registry (podman)" open_up || { show_log "$P/open-registry.log"; die "podman's open registry did not come up"; }
  HOME="$P/home" podman_env nsenter --net="/var/run/netns/$PNS" podman --tmpdir "$P/tmp" push -q --tls-verify=false \
    "$DC_IMAGE" "127.0.0.1:$PM_OPEN_REG_PORT/dc/busybox:latest" >"$P/seed.log" 2>&1 || { show_log "$P/seed.log"; die "could not seed podman's open registry"; }

  local v
  v=$(curl -s --max-time 5 --unix-socket "$PSOCK" http://d/version)
  PM_VERSION_JSON="$v" P="$P" PSOCK="$PSOCK" PNS="$PNS" IMAGE="$DC_IMAGE" REG="127.0.0.1:$DC_REG_PORT" OPEN="127.0.0.1:$PM_OPEN_REG_PORT" node -e '
const fs = require("node:fs");
const e = process.env;
const v = JSON.parse(e.PM_VERSION_JSON);
const out = {
  name: "podman",
  host: `unix://${e.PSOCK}`,
  version: v.Version,
  apiVersion: v.ApiVersion,
  netns: e.PNS,
  registry: e.REG,
  searchRegistry: e.OPEN,
  image: `localhost/${e.IMAGE}`,
  containersConf: `${e.P}/containers.conf`,
  storageConf: `${e.P}/storage.conf`,
  registriesConf: `${e.P}/registries.conf`,
};
fs.writeFileSync(`${e.P}/env.json.tmp`, JSON.stringify(out, null, 2) + "\n");
fs.renameSync(`${e.P}/env.json.tmp`, `${e.P}/env.json`);
'
  log "podman: $(node -p 'const e=require(process.argv[1]); `${e.version} (API ${e.apiVersion}) at ${e.host}`' "$P/env.json")"
}

case "${1:-}" in
  up) podman_up ;;
  down) podman_down ;;
  *) die "usage: podman.sh up|down" ;;
esac
