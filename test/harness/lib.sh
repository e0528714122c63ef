# shellcheck shell=bash
# shellcheck disable=SC2034  # variables used by the scripts that source this file
# Shared helpers for the Docker Connector test harness (sourced by up.sh,
# down.sh, restart-engine.sh). Everything lives under one state dir;
# nothing touches a system Docker (/var/run/docker.sock, /var/lib/docker).

HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DC_S=${DC_HARNESS_DIR:-/tmp/dch}
DC_S=${DC_S%/}
DC_CACHE=${DC_ENGINE_CACHE:-/var/cache/docker-connector/engine-new}
DC_CACHE=${DC_CACHE%/}

DC_ENGINES=(old new)
DC_IMAGE=dc-busybox:latest
# netns names "<prefix>-old"/"<prefix>-new" (also the containers' cgroup
# parents) and host ports can be changed to run a second, independent
# instance next to the default one (with another DC_HARNESS_DIR).
DC_PREFIX=${DC_NETNS_PREFIX:-dc}
DC_REG_PORT=5000          # inside each engine's netns
DC_STUB_PORT=5001         # inside each engine's netns
DC_ENGINE_TLS_PORT=2376   # inside the new engine's netns
DC_TLS_PORT=${DC_TLS_PORT:-23760}
DC_BASIC_PORT=${DC_BASIC_PORT:-23762}
DC_BEARER_PORT=${DC_BEARER_PORT:-23763}
DC_SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

export DOCKER_CONFIG="$DC_S/docker-config"   # never ~/.docker
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH DOCKER_API_VERSION || true

log() { printf '[harness %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '[harness %s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[harness %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

# show the last lines of a log file on stderr (for error reports)
show_log() {
  local f=$1 n=${2:-25}
  if [ -f "$f" ]; then
    printf -- '----- last %s lines of %s -----\n' "$n" "$f" >&2
    tail -n "$n" "$f" >&2 || true
    printf -- '-----\n' >&2
  fi
}

check_state_dir_sane() {
  case "$DC_S" in
    /*) ;;
    *) die "DC_HARNESS_DIR must be an absolute path (got '$DC_S')" ;;
  esac
  case "$DC_S" in
    / | /tmp | /var | /var/* | /usr | /usr/* | /etc | /etc/* | /root | /home | /run | /run/* | /proc* | /sys* | /dev*)
      case "$DC_S" in
        /var/tmp/?*) ;;
        *) die "refusing to use '$DC_S' as harness state dir" ;;
      esac ;;
  esac
  # unix socket paths must stay < 100 chars: the longest one is
  # $DC_S/new/ctd/containerd.sock.ttrpc (~30 chars + state dir)
  if [ "${#DC_S}" -gt 60 ]; then
    die "DC_HARNESS_DIR '$DC_S' is too long (${#DC_S} chars): unix socket paths must stay < 100 chars; use a short path like /tmp/dch"
  fi
}

# take an exclusive lock so up/down/restart never run concurrently
harness_lock() {
  exec 9>"${DC_S}.lock"
  flock -w 300 9 || die "could not lock ${DC_S}.lock (another harness script running?)"
}

engine_dir() { printf '%s/%s' "$DC_S" "$1"; }
engine_ns() { printf '%s-%s' "$DC_PREFIX" "$1"; }
engine_sock() { printf '%s/%s/docker.sock' "$DC_S" "$1"; }
engine_host() { printf 'unix://%s/%s/docker.sock' "$DC_S" "$1"; }

engine_path() {
  if [ "$1" = new ]; then
    printf '%s/usr/sbin:%s/usr/bin:%s' "$DC_CACHE" "$DC_CACHE" "$DC_SYS_PATH"
  else
    printf '%s' "$DC_SYS_PATH"
  fi
}
engine_dockerd() {
  if [ "$1" = new ]; then printf '%s/usr/sbin/dockerd' "$DC_CACHE"; else printf '/usr/sbin/dockerd'; fi
}
engine_containerd() {
  if [ "$1" = new ]; then printf '%s/usr/bin/containerd' "$DC_CACHE"; else printf '/usr/bin/containerd'; fi
}

# docker CLI (Debian's 20.10 client; negotiates API 1.41 with both engines)
dk() {
  local name=$1; shift
  docker -H "$(engine_host "$name")" "$@"
}

# spawn NAME LOGFILE CMD...: start CMD detached, in its own session (so its
# process group can be killed as a whole), stdin/stdout/stderr away from
# the caller (a caller waiting for our output must not hang), lock fd closed,
# tagged with DC_HARNESS_STATE so down.sh finds it even without pid files.
spawn() {
  local name=$1 logf=$2; shift 2
  mkdir -p "$DC_S/run"
  DC_HARNESS_STATE="$DC_S" setsid "$@" </dev/null >>"$logf" 2>&1 9>&- &
  echo "$!" >"$DC_S/run/$name.pid"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

pidfile_pid() {
  local f=$1 p
  [ -f "$f" ] || return 1
  p=$(tr -dc '0-9' <"$f")
  [ -n "$p" ] || return 1
  printf '%s' "$p"
}

# wait_until TIMEOUT_S DESCRIPTION CMD... : poll CMD until it succeeds
wait_until() {
  local timeout=$1 desc=$2; shift 2
  local deadline=$((SECONDS + timeout))
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      printf '[harness] timed out after %ss waiting for %s\n' "$timeout" "$desc" >&2
      return 1
    fi
    sleep 0.1
  done
}

engine_ping() {
  local out
  out=$(curl -sS --max-time 3 --unix-socket "$(engine_sock "$1")" http://docker/_ping 2>/dev/null) || return 1
  [ "$out" = OK ]
}

in_ns() {
  local name=$1; shift
  nsenter --net="/var/run/netns/$(engine_ns "$name")" "$@"
}

# ---------- containerd + dockerd for one engine ----------

write_containerd_config() {
  local name=$1 d
  d=$(engine_dir "$name")
  mkdir -p "$d/ctd"
  # version 2 config: read by containerd 1.6 (old) and migrated by 2.x (new)
  cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/ctd/root"
state = "$d/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
oom_score = 0

[grpc]
  address = "$d/ctd/containerd.sock"

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""
EOF
}

start_containerd() {
  local name=$1 d ns
  d=$(engine_dir "$name"); ns=$(engine_ns "$name")
  write_containerd_config "$name"
  rm -f "$d/ctd/containerd.sock" "$d/ctd/containerd.sock.ttrpc"
  spawn "containerd-$name" "$d/containerd.log" \
    env PATH="$(engine_path "$name")" \
    nsenter --net="/var/run/netns/$ns" "$(engine_containerd "$name")" --config "$d/containerd.toml"
  if ! wait_until 30 "containerd ($name)" test -S "$d/ctd/containerd.sock"; then
    show_log "$d/containerd.log"
    die "containerd for engine '$name' did not come up"
  fi
}

containerd_alive() {
  local p
  p=$(pidfile_pid "$DC_S/run/containerd-$1.pid") || return 1
  pid_alive "$p" && test -S "$(engine_dir "$1")/ctd/containerd.sock"
}

# the argument list of dockerd for one engine (same on up and restart)
dockerd_args() {
  local name=$1 d drv
  d=$(engine_dir "$name")
  drv=$(cat "$d/storage-driver" 2>/dev/null || echo overlay2)
  DOCKERD_ARGS=(
    --config-file "$d/daemon.json"
    --data-root "$d/data"
    --exec-root "$d/exec"
    --pidfile "$d/docker.pid"
    --containerd "$d/ctd/containerd.sock"
    -H "unix://$d/docker.sock"
    --storage-driver "$drv"
    --exec-opt native.cgroupdriver=cgroupfs
    --cgroup-parent "/$(engine_ns "$name")"
  )
  if [ "$name" = new ]; then
    DOCKERD_ARGS+=(
      -H "tcp://127.0.0.1:$DC_ENGINE_TLS_PORT"
      --tlsverify
      --tlscacert "$DC_S/tls/ca.pem"
      --tlscert "$DC_S/tls/server-cert.pem"
      --tlskey "$DC_S/tls/server-key.pem"
    )
  fi
}

# start dockerd and wait for /_ping; returns 1 (does not die) on failure
start_dockerd() {
  local name=$1 d ns p extra_env=()
  d=$(engine_dir "$name"); ns=$(engine_ns "$name")
  mkdir -p "$d/data" "$d/exec"
  [ -f "$d/daemon.json" ] || echo '{}' >"$d/daemon.json"
  rm -f "$d/docker.sock" "$d/docker.pid"
  dockerd_args "$name"
  # restart-engine.sh passes DOCKER_MIN_API_VERSION through (refusal-path tests)
  if [ -n "${DOCKER_MIN_API_VERSION:-}" ]; then
    extra_env+=("DOCKER_MIN_API_VERSION=$DOCKER_MIN_API_VERSION")
  fi
  printf '\n==== %s starting dockerd %s\n' "$(date -Is)" "${DOCKERD_ARGS[*]}" >>"$d/dockerd.log"
  spawn "dockerd-$name" "$d/dockerd.log" \
    env -u DOCKER_HOST -u NOTIFY_SOCKET PATH="$(engine_path "$name")" "${extra_env[@]}" \
    nsenter --net="/var/run/netns/$ns" "$(engine_dockerd "$name")" "${DOCKERD_ARGS[@]}"
  p=$(cat "$DC_S/run/dockerd-$name.pid")
  local deadline=$((SECONDS + 60))
  while :; do
    if engine_ping "$name"; then return 0; fi
    if ! pid_alive "$p"; then
      printf '[harness] dockerd (%s) exited during startup\n' "$name" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      printf '[harness] dockerd (%s) did not answer /_ping within 60s\n' "$name" >&2
      return 1
    fi
    sleep 0.1
  done
}

# stop dockerd of one engine (TERM, then KILL after a grace period)
stop_dockerd() {
  local name=$1 sig=${2:-TERM} grace=${3:-30} d p
  d=$(engine_dir "$name")
  p=$(pidfile_pid "$DC_S/run/dockerd-$name.pid" || pidfile_pid "$d/docker.pid" || true)
  if pid_alive "$p"; then
    kill "-$sig" "$p" 2>/dev/null || true
    local deadline=$((SECONDS + grace))
    while pid_alive "$p"; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        warn "dockerd ($name) still alive after ${grace}s: SIGKILL"
        kill -KILL "$p" 2>/dev/null || true
        sleep 0.2
        break
      fi
      sleep 0.1
    done
  fi
  rm -f "$d/docker.sock" "$d/docker.pid"
}

# ---------- leftovers: find and kill everything of this harness ----------

# ancestors of this shell (never kill ourselves or our callers)
_ancestors() {
  local p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    printf '%s\n' "$p"
    p=$(awk '/^PPid:/{print $2}' "/proc/$p/status" 2>/dev/null || true)
  done
  printf '%s\n' "${BASHPID:-$$}"
}

# comm names of the programs the harness starts (session/port matches are
# only trusted for these, so a recycled pid can never hit something else)
_DC_COMMS='^(nginx|socat|sshd|dockerd|containerd|containerd-shim.*|docker-registry|node|docker-proxy|nsenter|setsid|env)$'

# members of the sessions recorded in $DC_S/run/*.pid (spawn() makes each
# daemon a session leader): catches e.g. nginx workers whose master was
# killed -9 (they rewrite their command line and environment)
_session_pids() {
  local f sids=" " line rest comm pid
  for f in "$DC_S"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(tr -dc '0-9' <"$f")
    [ -n "$pid" ] && sids+="$pid "
  done
  [ "$sids" != " " ] || return 0
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    pid=${line%% *}
    comm=${line#*\(}; comm=${comm%\)*}
    rest=${line##*\) }
    # rest: state ppid pgrp session ...
    # shellcheck disable=SC2086
    set -- $rest
    case "$sids" in
      *" $4 "*) if [[ "$comm" =~ $_DC_COMMS ]]; then echo "$pid"; fi ;;
    esac
  done
  return 0
}

# processes listening on the harness' host TCP ports (nginx, socat)
_port_pids() {
  local p comm
  for p in $(ss -Hltnp "( sport = :$DC_TLS_PORT or sport = :$DC_BASIC_PORT or sport = :$DC_BEARER_PORT or sport = :$DC_SSH_PORT_OLD or sport = :$DC_SSH_PORT_NEW )" 2>/dev/null |
    grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
    comm=$(cat "/proc/$p/comm" 2>/dev/null || true)
    case "$comm" in nginx | socat | sshd) echo "$p" ;; esac
  done
  return 0
}

# print pids belonging to this harness instance:
#  - tagged with DC_HARNESS_STATE=<state dir> in their environment
#  - whose command line mentions the state dir (containerd shims, socat, nginx master)
#  - living in our network namespaces (dockerd, containerd, registries, stubs, host-network containers)
#  - in our cgroup parents /dc-old, /dc-new (container processes)
harness_pids() {
  local tag="DC_HARNESS_STATE=$DC_S" p
  {
    # one grep over all processes (cheap even with many processes)
    grep -lzxF -- "$tag" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true
    # the bracket keeps this grep from matching its own command line
    local re
    re=$(printf '%s/' "$DC_S" | sed 's/[.[\*^$+?(){}|]/\\&/g')
    re="[${re:0:1}]${re:1}"
    grep -lzE -- "$re" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 || true
    _session_pids
    _port_pids
    local n
    for n in "${DC_ENGINES[@]}"; do
      if [ -e "/var/run/netns/$(engine_ns "$n")" ]; then
        ip netns pids "$(engine_ns "$n")" 2>/dev/null || true
      fi
      for p in /sys/fs/cgroup/*/"$(engine_ns "$n")" /sys/fs/cgroup/"$(engine_ns "$n")"; do
        [ -d "$p" ] || continue
        find "$p" -name cgroup.procs -exec cat {} + 2>/dev/null || true
      done
    done
  } | sort -un | grep -vxF -f <(_ancestors) | _drop_zombies || true
}

# zombies (already dead, waiting for their parent to reap them) need no kill
_drop_zombies() {
  local p line rest
  while read -r p; do
    read -r line 2>/dev/null <"/proc/$p/stat" || continue
    rest=${line##*) }
    case "$rest" in Z* | X*) continue ;; esac
    echo "$p"
  done
}

kill_harness_processes() {
  local i pids
  for i in 1 2 3 4 5 6 7 8 9 10; do
    pids=$(harness_pids | tr '\n' ' ')
    [ -n "${pids// /}" ] || return 0
    if [ "$i" = 1 ]; then log "killing leftover harness processes: $pids"; fi
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.3
  done
  pids=$(harness_pids | tr '\n' ' ')
  [ -z "${pids// /}" ] || warn "some harness processes survived SIGKILL: $pids"
}

unmount_state_dir() {
  local m i
  for i in 1 2 3; do
    m=$(findmnt -rn -o TARGET 2>/dev/null | grep -E "^${DC_S//./\\.}(/|$)" | sort -r || true)
    [ -n "$m" ] || return 0
    while IFS= read -r t; do
      [ -n "$t" ] || continue
      t=$(printf '%b' "$t")   # findmnt escapes blanks as \x20
      umount "$t" 2>/dev/null || umount -l "$t" 2>/dev/null || true
    done <<<"$m"
  done
  m=$(findmnt -rn -o TARGET 2>/dev/null | grep -E "^${DC_S//./\\.}(/|$)" || true)
  [ -z "$m" ] || warn "mounts left under $DC_S: $m"
}

delete_netns() {
  local n ns
  for n in "${DC_ENGINES[@]}"; do
    ns=$(engine_ns "$n")
    if [ -e "/var/run/netns/$ns" ]; then
      ip netns delete "$ns" 2>/dev/null || true
      if [ -e "/var/run/netns/$ns" ]; then
        umount -l "/var/run/netns/$ns" 2>/dev/null || true
        rm -f "/var/run/netns/$ns" 2>/dev/null || true
      fi
    fi
  done
}

remove_cgroups() {
  local n c
  for n in "${DC_ENGINES[@]}"; do
    for c in /sys/fs/cgroup/*/"$(engine_ns "$n")" /sys/fs/cgroup/"$(engine_ns "$n")"; do
      [ -d "$c" ] || continue
      find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  done
}

# containerd shims listen on /run/containerd/s/<sha256("<containerd address>/<ns>/<id>")>
# (both containerd 1.6 and 2.x); a killed shim leaves its socket behind
remove_shim_sockets() {
  local n d t id h
  for n in "${DC_ENGINES[@]}"; do
    d=$(engine_dir "$n")
    for t in "$d"/ctd/state/io.containerd.runtime.v2.task/*/*; do
      [ -d "$t" ] || continue
      id=${t##*/}
      t=${t%/*}
      for h in "$d/ctd/containerd.sock/${t##*/}/$id" "$d/ctd/containerd.sock/${t##*/}/$id/debug"; do
        h=$(printf '%s' "$h" | sha256sum | cut -c1-64)
        if [ -S "/run/containerd/s/$h" ]; then rm -f "/run/containerd/s/$h"; fi
      done
    done
  done
}

# full teardown of this harness instance; safe on any leftovers
teardown_all() {
  check_state_dir_sane
  # Podman's containers live in its own namespace, outside what the rest of this teardown finds.
  bash "$HARNESS_DIR/podman.sh" down || warn "podman teardown failed"
  kill_harness_processes
  remove_shim_sockets
  unmount_state_dir
  delete_netns
  remove_cgroups
  if [ -e "$DC_S" ]; then
    rm -rf --one-file-system "$DC_S" 2>/dev/null || {
      unmount_state_dir
      rm -rf --one-file-system "$DC_S" || die "could not remove $DC_S"
    }
  fi
}

# ---------- private sshd (ssh:// endpoints) ----------
# One sshd per engine on 127.0.0.1 (own config, host key, authorized keys,
# pid file and log; never the system's sshd or ~/.ssh). Each session gets
# DOCKER_HOST of its engine, so the remote `docker system dial-stdio` reaches
# that engine (without it, it would use /var/run/docker.sock). LogLevel
# VERBOSE logs each login ("Accepted publickey") and each channel's command
# ("Starting session: command"): tests count logins in the log.
DC_SSH_PORT_OLD=${DC_SSH_PORT_OLD:-23770}
DC_SSH_PORT_NEW=${DC_SSH_PORT_NEW:-23771}
DC_SSH_USER=root
DC_SSH_KEY_PASSPHRASE=dc-ssh-passphrase
ssh_dir() { printf '%s/ssh' "$DC_S"; }
ssh_port() { if [ "$1" = new ]; then printf '%s' "$DC_SSH_PORT_NEW"; else printf '%s' "$DC_SSH_PORT_OLD"; fi; }

# client keys, authorized_keys and known_hosts (plain and hashed); kept when present
ssh_material() {
  local s n d k
  s=$(ssh_dir)
  mkdir -p "$s/client"
  chmod 700 "$s" "$s/client"
  [ -f "$s/client/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C dc-key-file -f "$s/client/id_ed25519"
  [ -f "$s/client/id_ecdsa_encrypted" ] || ssh-keygen -q -t ecdsa -b 256 -N "$DC_SSH_KEY_PASSPHRASE" -C dc-key-encrypted -f "$s/client/id_ecdsa_encrypted"
  # only ever loaded into an ssh-agent by the tests: proves the agent path
  [ -f "$s/client/id_ed25519_agent" ] || ssh-keygen -q -t ed25519 -N '' -C dc-key-agent -f "$s/client/id_ed25519_agent"
  cat "$s/client"/*.pub >"$s/authorized_keys"
  : >"$s/known_hosts"
  for n in "${DC_ENGINES[@]}"; do
    d="$s/$n"
    mkdir -p "$d"
    [ -f "$d/host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -C "dc-sshd-$n" -f "$d/host_ed25519_key"
    k=$(cut -d' ' -f1,2 "$d/host_ed25519_key.pub")
    printf '[127.0.0.1]:%s %s\n' "$(ssh_port "$n")" "$k" >>"$s/known_hosts"
  done
  cp "$s/known_hosts" "$s/known_hosts_hashed"
  ssh-keygen -q -H -f "$s/known_hosts_hashed" >/dev/null 2>&1
  rm -f "$s/known_hosts_hashed.old"
  chmod 600 "$s/client"/id_* "$s"/*/host_ed25519_key
  chmod 644 "$s/client"/*.pub "$s/authorized_keys" "$s/known_hosts" "$s/known_hosts_hashed"
}

ssh_write_config() {
  local n=$1 s d
  s=$(ssh_dir)
  d="$s/$n"
  cat >"$d/sshd_config" <<CONF
# generated by test/harness/lib.sh; not the system sshd
Port $(ssh_port "$n")
ListenAddress 127.0.0.1
HostKey $d/host_ed25519_key
PidFile $d/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile $s/authorized_keys
StrictModes no
SetEnv DOCKER_HOST=$(engine_host "$n")
LogLevel VERBOSE
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
PrintLastLog no
CONF
}

sshd_up() { # sshd_up NAME: the port answers with an SSH banner
  local out
  out=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$(ssh_port "$1"); head -c 8 <&3" 2>/dev/null) || return 1
  [ "$out" = SSH-2.0- ]
}

# stop_sshd NAME: this harness' sshd for NAME (pid file or its config on the command line), and its sessions' ports freed
stop_sshd() {
  local n=$1 d p
  d="$(ssh_dir)/$n"
  p=$(pidfile_pid "$d/sshd.pid" 2>/dev/null || true)
  if pid_alive "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sshd ]; then kill -TERM "$p" 2>/dev/null || true; fi
  for p in $(grep -lzF -- "$d/sshd_config" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" = sshd ] && kill -TERM "$p" 2>/dev/null || true
  done
  rm -f "$d/sshd.pid"
}

# start_sshd NAME: (re)start the sshd of engine NAME; safe over leftovers
start_sshd() {
  local n=$1 d
  d="$(ssh_dir)/$n"
  command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ] || die "sshd missing (run: bash test/harness/install.sh)"
  stop_sshd "$n"
  wait_until 5 "old sshd ($n) gone" bash -c "! ss -Hltn 'sport = :$(ssh_port "$n")' | grep -q ." ||
    die "TCP port 127.0.0.1:$(ssh_port "$n") is in use: $(ss -Hltnp "sport = :$(ssh_port "$n")" 2>/dev/null | head -1)"
  mkdir -p /run/sshd
  chmod 755 /run/sshd
  ssh_write_config "$n"
  /usr/sbin/sshd -t -f "$d/sshd_config" >"$d/sshd-test.log" 2>&1 || { show_log "$d/sshd-test.log"; die "sshd config test failed ($n)"; }
  spawn "sshd-$n" "$d/sshd.stderr.log" /usr/sbin/sshd -D -f "$d/sshd_config" -E "$d/sshd.log"
  wait_until 10 "sshd ($n)" sshd_up "$n" || { show_log "$d/sshd.log"; show_log "$d/sshd.stderr.log"; die "sshd for engine '$n' did not come up"; }
}

# ssh_check NAME: a real ssh login runs `docker version` against the engine through dial-stdio's environment
ssh_check() {
  local n=$1 s out
  s=$(ssh_dir)
  out=$(ssh -F /dev/null -i "$s/client/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile="$s/known_hosts" \
    -o StrictHostKeyChecking=yes -p "$(ssh_port "$n")" "$DC_SSH_USER@127.0.0.1" 'docker version --format "{{.Server.APIVersion}}"' 2>&1) ||
    { echo "$out" >&2; return 1; }
  [ "$out" = "$(node -p 'require(process.argv[1]).ApiVersion' "$(engine_dir "$n")/version.json")" ] || { echo "unexpected: $out" >&2; return 1; }
}

# start both sshds and check them
start_sshd_all() {
  local n
  ssh_material
  for n in "${DC_ENGINES[@]}"; do
    start_sshd "$n"
    ssh_check "$n" || { show_log "$(ssh_dir)/$n/sshd.log"; die "ssh to engine '$n' (port $(ssh_port "$n")) does not reach it"; }
  done
  log "sshd: old 127.0.0.1:$DC_SSH_PORT_OLD, new 127.0.0.1:$DC_SSH_PORT_NEW ($DC_SSH_USER, keys under $(ssh_dir)/client)"
}

# the "ssh" section of env.json, as JSON
ssh_env_json() {
  local s
  s=$(ssh_dir)
  S="$s" U="$DC_SSH_USER" PO="$DC_SSH_PORT_OLD" PN="$DC_SSH_PORT_NEW" PP="$DC_SSH_KEY_PASSPHRASE" node -e '
const e = process.env, s = e.S;
const eng = (name, port) => ({ name, host: `ssh://${e.U}@127.0.0.1:${port}`, port: Number(port), log: `${s}/${name}/sshd.log`, hostKey: `${s}/${name}/host_ed25519_key.pub` });
process.stdout.write(JSON.stringify({
  user: e.U,
  engines: [eng("old", e.PO), eng("new", e.PN)],
  key: `${s}/client/id_ed25519`,
  encryptedKey: `${s}/client/id_ecdsa_encrypted`,
  encryptedKeyPassphrase: e.PP,
  agentKey: `${s}/client/id_ed25519_agent`,
  knownHosts: `${s}/known_hosts`,
  knownHostsHashed: `${s}/known_hosts_hashed`,
}));'
}

# add (or replace) the "ssh" section of an existing env.json
ssh_patch_env_json() {
  local f=$1
  SSH_JSON=$(ssh_env_json) F="$f" node -e '
const fs = require("node:fs");
const f = process.env.F;
const env = JSON.parse(fs.readFileSync(f, "utf8"));
env.ssh = JSON.parse(process.env.SSH_JSON);
fs.writeFileSync(`${f}.tmp`, JSON.stringify(env, null, 2) + "\n");
fs.renameSync(`${f}.tmp`, f);
' || die "could not update $f"
  chmod 644 "$f"
}

# ---------- Swarm: each engine is a single-node swarm manager ----------
# The Swarm operations' tests need a manager. Checked and started over the
# unversioned API with curl (a restart with DOCKER_MIN_API_VERSION above
# the 20.10 CLI's 1.41 would make `docker` itself refused).

# swarm_state NAME: "<LocalNodeState> <ControlAvailable>", e.g. "active true"
swarm_state() {
  local out
  out=$(curl -sS --max-time 5 --unix-socket "$(engine_sock "$1")" http://docker/info 2>/dev/null) || return 1
  printf '%s' "$out" | node -e '
let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
  const sw = JSON.parse(s).Swarm ?? {};
  process.stdout.write(`${sw.LocalNodeState ?? "unknown"} ${sw.ControlAvailable === true}`);
});'
}

swarm_manager_up() { [ "$(swarm_state "$1")" = 'active true' ]; }

# swarm_init NAME: make the engine a single-node swarm manager unless it is one;
# waits until the manager answers (after a restart the raft store takes a moment)
swarm_init() {
  local n=$1 st code
  st=$(swarm_state "$n" || echo 'unreachable false')
  case "$st" in
    'active true') return 0 ;;
    active* | pending* | locked*)
      # a restarted manager rejoining its own swarm: give it time
      wait_until 30 "swarm manager ($n)" swarm_manager_up "$n" && return 0
      warn "engine '$n': swarm state '$(swarm_state "$n")' after 30s: leaving and initialising again"
      curl -sS --max-time 30 --unix-socket "$(engine_sock "$n")" -X POST 'http://docker/swarm/leave?force=1' >/dev/null 2>&1 || true ;;
  esac
  code=$(curl -sS -o "$(engine_dir "$n")/swarm-init.log" -w '%{http_code}' --max-time 30 --unix-socket "$(engine_sock "$n")" \
    -H 'Content-Type: application/json' -X POST http://docker/swarm/init \
    -d '{"ListenAddr":"0.0.0.0:2377","AdvertiseAddr":"127.0.0.1"}') || code=000
  [ "$code" = 200 ] || { show_log "$(engine_dir "$n")/swarm-init.log" 5; return 1; }
  wait_until 30 "swarm manager ($n)" swarm_manager_up "$n"
}
