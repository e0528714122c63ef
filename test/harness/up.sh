#!/usr/bin/env bash
# Bring up the Docker Connector test harness under ${DC_HARNESS_DIR:-/tmp/dch}:
#   - engine "old": Debian dockerd 20.10 (API 1.41) in netns dc-old
#   - engine "new": cached dockerd 28.x (API 1.51) in netns dc-new
#     (+ mTLS listener forwarded to 127.0.0.1:23760 on the host)
#   - per engine, inside its netns: registry 127.0.0.1:5000 (htpasswd auth),
#     search stub 127.0.0.1:5001
#   - each engine a single-node swarm manager (advertise address 127.0.0.1)
#   - nginx auth proxy to the new engine: Basic 127.0.0.1:23762, Bearer 127.0.0.1:23763
#   - one private sshd per engine (ssh:// endpoints): old 127.0.0.1:23770, new 127.0.0.1:23771
#   - Podman 4.3's Docker-compatible API in netns dc-podman (podman.sh: own storage,
#     socket, registries), described in ${DC_HARNESS_DIR}/podman/env.json
# and write ${DC_HARNESS_DIR}/env.json. Starts cleanly over any leftovers.
#
# Usage: up.sh [--reuse]
#   --reuse (or DC_HARNESS_REUSE=1): if a harness is already up and healthy,
#   keep it and exit 0 at once; otherwise tear down and start afresh.
# Environment: DC_HARNESS_DIR (state dir, default /tmp/dch), DC_ENGINE_CACHE,
#   DC_STORAGE_DRIVER (default overlay2, falls back to vfs if overlay2 fails),
#   DC_NETNS_PREFIX / DC_TLS_PORT / DC_BASIC_PORT / DC_BEARER_PORT (to run a
#   second instance next to the default one).
# Progress goes to stderr; nothing is printed on stdout except the env.json path.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REUSE=${DC_HARNESS_REUSE:-0}
for a in "$@"; do
  case "$a" in
    --reuse) REUSE=1 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown argument: $a" ;;
  esac
done

T_START=$SECONDS
unset DOCKER_MIN_API_VERSION || true   # engines always start with their default floor
ENV_JSON="$DC_S/env.json"
NODE_BIN=$(command -v node || true)

# ---------------------------------------------------------------- preflight
[ "$(id -u)" = 0 ] || die "up.sh must run as root (network namespaces, dockerd)"
check_state_dir_sane
missing=()
for c in docker dockerd containerd containerd-shim-runc-v2 runc nsenter setsid ip socat nginx docker-registry \
  htpasswd openssl curl flock findmnt tar ssh ssh-keygen ssh-agent ssh-add; do
  command -v "$c" >/dev/null 2>&1 || missing+=("$c")
done
[ -n "$NODE_BIN" ] || missing+=(node)
[ -x /bin/busybox ] || missing+=(/bin/busybox)
[ -x /usr/sbin/sshd ] || missing+=(/usr/sbin/sshd)
[ ${#missing[@]} -eq 0 ] || die "missing: ${missing[*]} (run: bash test/harness/install.sh)"
for f in usr/sbin/dockerd usr/bin/containerd usr/bin/containerd-shim-runc-v2 usr/sbin/runc usr/bin/docker-init; do
  [ -x "$DC_CACHE/$f" ] || die "new engine not in cache: $DC_CACHE/$f missing (run: bash test/harness/install.sh)"
done
if ldd /bin/busybox >/dev/null 2>&1; then die "/bin/busybox is dynamically linked: install busybox-static"; fi

harness_lock

# ---------------------------------------------------------------- reuse
quick_health() {
  [ -f "$ENV_JSON" ] || return 1
  local n
  for n in "${DC_ENGINES[@]}"; do
    engine_ping "$n" || return 1
    [ "$(in_ns "$n" curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://127.0.0.1:$DC_REG_PORT/v2/")" = 401 ] || return 1
    [ "$(in_ns "$n" curl -s --max-time 3 "http://127.0.0.1:$DC_STUB_PORT/v1/_ping")" = '{}' ] || return 1
  done
  local t="$DC_S/tls/client"
  [ "$(curl -s --max-time 5 --cacert "$t/ca.pem" --cert "$t/cert.pem" --key "$t/key.pem" "https://127.0.0.1:$DC_TLS_PORT/_ping")" = OK ] || return 1
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$DC_BASIC_PORT/_ping")" = 401 ] || return 1
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$DC_BEARER_PORT/_ping")" = 401 ] || return 1
}
if [ "$REUSE" = 1 ]; then
  if quick_health; then
    # The sshds are this harness' only restartable piece: (re)started here if they are not up.
    if ! sshd_up old || ! sshd_up new || ! grep -q '"ssh"' "$ENV_JSON"; then
      start_sshd_all
      ssh_patch_env_json "$ENV_JSON"
    fi
    # A harness from before the engines were swarm managers (or one whose swarm was left) is made one here.
    for n in "${DC_ENGINES[@]}"; do swarm_init "$n" || die "engine '$n' could not be made a swarm manager"; done
    [ "$(curl -s --max-time 3 --unix-socket "$DC_S/podman/podman.sock" http://d/_ping 2>/dev/null)" = OK ] && [ -f "$DC_S/podman/env.json" ] ||
      bash "$HARNESS_DIR/podman.sh" up
    log "harness already up and healthy: reusing $ENV_JSON"
    printf '%s\n' "$ENV_JSON"
    exit 0
  fi
  log "no healthy harness to reuse: starting afresh"
fi

# ---------------------------------------------------------------- clean slate
log "cleaning up leftovers under $DC_S"
teardown_all
for p in $DC_TLS_PORT $DC_BASIC_PORT $DC_BEARER_PORT $DC_SSH_PORT_OLD $DC_SSH_PORT_NEW; do
  if ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
    die "TCP port 127.0.0.1:$p is in use by another program: $(ss -Hltnp "sport = :$p" 2>/dev/null | head -1)"
  fi
done

mkdir -p "$DC_S"/{run,image,tls,registry,nginx,docker-config} "$DC_S/old" "$DC_S/new"
chmod 755 "$DC_S"

REG_USER=dcuser
REG_PASS=$(openssl rand -hex 16)
PROXY_USER=proxyuser
PROXY_PASS=$(openssl rand -hex 16)
PROXY_TOKEN=$(openssl rand -hex 24)
umask 077
cat >"$DC_S/secrets.env" <<EOF
REG_USER=$REG_USER
REG_PASS=$REG_PASS
PROXY_USER=$PROXY_USER
PROXY_PASS=$PROXY_PASS
PROXY_TOKEN=$PROXY_TOKEN
EOF
umask 022

# ---------------------------------------------------------------- netns
for n in "${DC_ENGINES[@]}"; do
  ns=$(engine_ns "$n")
  ip netns add "$ns" || die "ip netns add $ns failed"
  ip -n "$ns" link set lo up || die "could not bring up lo in $ns"
done
log "network namespaces $(engine_ns old), $(engine_ns new) created"

# ---------------------------------------------------------------- TLS material
# ECDSA P-256 keys (PKCS#8 PEM): generated in milliseconds, unlike RSA
gen_tls() {
  local t="$DC_S/tls"
  mkdir -p "$t/client" "$t/wrong"
  serial() { printf '0x%s' "$(openssl rand -hex 8)"; }
  mkca() { # mkca KEY CERT CN
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 3650 -subj "/CN=$3" \
      -keyout "$1" -out "$2" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  }
  mkleaf() { # mkleaf CAKEY CACERT KEY CERT CN EXTFILE-CONTENT
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -subj "/CN=$5" -keyout "$3" -out "$3.csr" 2>/dev/null
    openssl x509 -req -sha256 -days 3650 -in "$3.csr" -CA "$2" -CAkey "$1" -set_serial "$(serial)" \
      -out "$4" -extfile <(printf '%b' "$6") 2>/dev/null
    rm -f "$3.csr"
  }
  mkca "$t/ca-key.pem" "$t/ca.pem" "docker-connector test CA"
  mkleaf "$t/ca-key.pem" "$t/ca.pem" "$t/server-key.pem" "$t/server-cert.pem" localhost \
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n'
  mkleaf "$t/ca-key.pem" "$t/ca.pem" "$t/client/key.pem" "$t/client/cert.pem" dc-client \
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
  cp "$t/ca.pem" "$t/client/ca.pem"
  mkca "$t/wrong-ca-key.pem" "$t/wrong/ca.pem" "docker-connector WRONG test CA"
  mkleaf "$t/wrong-ca-key.pem" "$t/wrong/ca.pem" "$t/wrong/key.pem" "$t/wrong/cert.pem" dc-client \
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
  chmod 644 "$t"/*.pem "$t"/client/*.pem "$t"/wrong/*.pem
  openssl verify -CAfile "$t/ca.pem" "$t/server-cert.pem" "$t/client/cert.pem" >/dev/null ||
    die "generated certificates do not verify"
}
gen_tls
log "TLS material generated under $DC_S/tls"

# ---------------------------------------------------------------- engines
start_engine() {
  local n=$1 d
  d=$(engine_dir "$n")
  echo "${DC_STORAGE_DRIVER:-overlay2}" >"$d/storage-driver"
  start_containerd "$n"
  if start_dockerd "$n"; then return 0; fi
  if [ "${DC_STORAGE_DRIVER:-overlay2}" = overlay2 ] && grep -qiE 'overlay|graphdriver|storage.driver|driver not supported' "$d/dockerd.log"; then
    warn "engine '$n': overlay2 failed; falling back to vfs"
    show_log "$d/dockerd.log" 10
    stop_dockerd "$n" KILL 5
    echo vfs >"$d/storage-driver"
    start_dockerd "$n" && return 0
  fi
  show_log "$d/dockerd.log" 30
  die "engine '$n' did not come up (log: $d/dockerd.log)"
}

log "starting engines (containerd + dockerd) in their namespaces"
start_engine old &
p_old=$!
start_engine new &
p_new=$!
rc=0
wait "$p_old" || rc=1
wait "$p_new" || rc=1
[ "$rc" = 0 ] || die "an engine failed to start"
for n in "${DC_ENGINES[@]}"; do
  curl -sS --unix-socket "$(engine_sock "$n")" http://docker/version >"$(engine_dir "$n")/version.json" ||
    die "GET /version failed on engine '$n'"
done
log "engines answer /_ping (old: $(engine_sock old), new: $(engine_sock new))"

# ---------------------------------------------------------------- swarm
# Each engine is a single-node swarm manager (the Swarm operations' tests).
t_swarm=$(date +%s%N)
swarm_init old & p_old=$!
swarm_init new & p_new=$!
rc=0
wait "$p_old" || rc=1
wait "$p_new" || rc=1
[ "$rc" = 0 ] || die "an engine could not be made a swarm manager (logs: $DC_S/*/swarm-init.log, $DC_S/*/dockerd.log)"
log "engines are single-node swarm managers (advertise 127.0.0.1) in $((($(date +%s%N) - t_swarm) / 1000000)) ms"

# ---------------------------------------------------------------- registries + search stubs
htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$DC_S/registry/htpasswd" 2>/dev/null
for n in "${DC_ENGINES[@]}"; do
  d=$(engine_dir "$n")
  mkdir -p "$d/registry"
  cat >"$d/registry.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $d/registry
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$DC_REG_PORT
  secret: $(openssl rand -hex 16)
auth:
  htpasswd:
    realm: dc-registry
    path: $DC_S/registry/htpasswd
EOF
  spawn "registry-$n" "$d/registry.log" \
    env -u REGISTRY_HTTP_ADDR nsenter --net="/var/run/netns/$(engine_ns "$n")" docker-registry serve "$d/registry.yml"
  spawn "search-stub-$n" "$d/search-stub.log" \
    nsenter --net="/var/run/netns/$(engine_ns "$n")" "$NODE_BIN" "$HARNESS_DIR/search-stub.mjs" 127.0.0.1 "$DC_STUB_PORT"
done

# ---------------------------------------------------------------- mTLS forwarding (new engine)
TLS_SOCK="$DC_S/new/tls.sock"
spawn socat-tls-inner "$DC_S/new/socat-tls-inner.log" \
  nsenter --net="/var/run/netns/$(engine_ns new)" \
  socat "UNIX-LISTEN:$TLS_SOCK,fork,unlink-early,mode=600" "TCP:127.0.0.1:$DC_ENGINE_TLS_PORT"
spawn socat-tls-outer "$DC_S/socat-tls-outer.log" \
  socat "TCP-LISTEN:$DC_TLS_PORT,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$TLS_SOCK"
# the same endpoint on another loopback address that the server certificate
# does not name (127.0.0.2): for "hostname mismatch" tests
spawn socat-tls-mismatch "$DC_S/socat-tls-mismatch.log" \
  socat "TCP-LISTEN:$DC_TLS_PORT,bind=127.0.0.2,fork,reuseaddr" "UNIX-CONNECT:$TLS_SOCK"

# ---------------------------------------------------------------- nginx auth proxy (new engine)
N="$DC_S/nginx"
mkdir -p "$N/tmp"
htpasswd -Bbn "$PROXY_USER" "$PROXY_PASS" >"$N/htpasswd" 2>/dev/null
cat >"$N/proxy.conf" <<EOF
proxy_pass http://unix:$DC_S/new/docker.sock:;
proxy_http_version 1.1;
proxy_set_header Host docker;
proxy_set_header Authorization "";
proxy_set_header Upgrade \$http_upgrade;
proxy_set_header Connection \$dc_connection;
proxy_buffering off;
proxy_request_buffering off;
proxy_cache off;
proxy_connect_timeout 10s;
proxy_read_timeout 3600s;
proxy_send_timeout 3600s;
EOF
cat >"$N/nginx.conf" <<EOF
# generated by test/harness/up.sh; not the system nginx
daemon off;
master_process on;
user root;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 512; }
http {
  access_log $N/access.log;
  client_body_temp_path $N/tmp/body;
  proxy_temp_path $N/tmp/proxy;
  fastcgi_temp_path $N/tmp/fastcgi;
  uwsgi_temp_path $N/tmp/uwsgi;
  scgi_temp_path $N/tmp/scgi;
  client_max_body_size 0;
  chunked_transfer_encoding on;
  keepalive_timeout 75s;
  # Docker hijack/attach asks for "Connection: Upgrade" + "Upgrade: tcp"
  map \$http_upgrade \$dc_connection {
    default upgrade;
    ''      '';
  }
  # Basic auth
  server {
    listen 127.0.0.1:$DC_BASIC_PORT;
    server_name dc-basic;
    location / {
      auth_basic "docker-connector";
      auth_basic_user_file $N/htpasswd;
      include $N/proxy.conf;
    }
  }
  # Bearer token
  server {
    listen 127.0.0.1:$DC_BEARER_PORT;
    server_name dc-bearer;
    location / {
      default_type application/json;
      if (\$http_authorization != "Bearer $PROXY_TOKEN") {
        add_header WWW-Authenticate 'Bearer realm="docker-connector"' always;
        return 401 '{"message":"unauthorized"}\n';
      }
      include $N/proxy.conf;
    }
  }
}
EOF
nginx -t -p "$N/" -c "$N/nginx.conf" -e "$N/error.log" >"$N/test.log" 2>&1 || { show_log "$N/test.log"; die "nginx config test failed"; }
spawn nginx "$N/stderr.log" nginx -p "$N/" -c "$N/nginx.conf" -e "$N/error.log"

# ---------------------------------------------------------------- wait for the services
reg_up() { [ "$(in_ns "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$DC_REG_PORT/v2/")" = 401 ]; }
stub_up() { [ "$(in_ns "$1" curl -s --max-time 2 "http://127.0.0.1:$DC_STUB_PORT/v1/_ping")" = '{}' ]; }
for n in "${DC_ENGINES[@]}"; do
  wait_until 20 "registry ($n)" reg_up "$n" || { show_log "$(engine_dir "$n")/registry.log"; die "registry for engine '$n' did not come up (expected 401 from /v2/)"; }
  wait_until 20 "search stub ($n)" stub_up "$n" || { show_log "$(engine_dir "$n")/search-stub.log"; die "search stub for engine '$n' did not come up"; }
done
log "registries (htpasswd auth) and search stubs answer inside both namespaces"

# ---------------------------------------------------------------- base image
build_rootfs() {
  local r="$DC_S/image/root"
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,home,var/tmp,proc,sys,dev}
  cp /bin/busybox "$r/bin/busybox"
  chroot "$r" /bin/busybox --install -s
  [ -L "$r/bin/sh" ] || die "busybox --install did not create /bin/sh"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$r/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
  chmod 1777 "$r/tmp" "$r/var/tmp"
  chmod 700 "$r/root"
  tar --numeric-owner -C "$r" -cf "$DC_S/image/dc-busybox.tar" .
}
build_rootfs

# ---------------------------------------------------------------- per-engine checks
REG_IMAGE="127.0.0.1:$DC_REG_PORT/dc/busybox:latest"
engine_checks() {
  local n=$1 d out
  d=$(engine_dir "$n")
  export DOCKER_CONFIG="$DC_S/docker-config/$n"
  mkdir -p "$DOCKER_CONFIG"
  log "[$n] importing $DC_IMAGE"
  dk "$n" import -c 'CMD ["sh"]' -c "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "$DC_S/image/dc-busybox.tar" "$DC_IMAGE" >/dev/null || die "[$n] docker import failed"
  out=$(dk "$n" run --rm "$DC_IMAGE" sh -c 'echo ok' 2>&1) || { echo "$out" >&2; show_log "$d/dockerd.log"; die "[$n] docker run failed"; }
  [ "$out" = ok ] || die "[$n] docker run printed '$out', expected 'ok'"
  log "[$n] docker run $DC_IMAGE sh -c 'echo ok' -> ok"

  # container networking on a user-defined bridge, by container name
  # (note: busybox 1.35 "wget -T N" segfaults; use the timeout applet instead)
  dk "$n" network create dch-check-net >/dev/null || die "[$n] network create failed"
  dk "$n" run -d --name dch-check-peer --network dch-check-net "$DC_IMAGE" httpd -f -p 8080 -h /etc >/dev/null ||
    die "[$n] could not start peer container"
  local net=""
  if dk "$n" run --rm --network dch-check-net "$DC_IMAGE" ping -c1 -W3 dch-check-peer >"$d/netcheck.log" 2>&1; then
    net=ping
  fi
  if out=$(dk "$n" run --rm --network dch-check-net "$DC_IMAGE" timeout 10 wget -q -O- http://dch-check-peer:8080/passwd 2>>"$d/netcheck.log") &&
    [[ "$out" == root:* ]]; then
    net="${net:+$net+}wget"
  fi
  dk "$n" rm -f dch-check-peer >/dev/null 2>&1 || true
  dk "$n" network rm dch-check-net >/dev/null 2>&1 || true
  [ -n "$net" ] || { cat "$d/netcheck.log" >&2; die "[$n] containers on a user-defined network cannot reach each other by name"; }
  echo "$net" >"$d/netcheck"
  log "[$n] container-to-container by name on a user-defined bridge: $net works"

  # registry round trip with auth
  if dk "$n" pull "$REG_IMAGE" >/dev/null 2>&1; then die "[$n] anonymous pull from the registry succeeded: auth not enforced"; fi
  printf '%s' "$REG_PASS" | dk "$n" login -u "$REG_USER" --password-stdin "127.0.0.1:$DC_REG_PORT" >/dev/null 2>"$d/login.log" ||
    { cat "$d/login.log" >&2; die "[$n] docker login 127.0.0.1:$DC_REG_PORT failed"; }
  dk "$n" tag "$DC_IMAGE" "$REG_IMAGE"
  dk "$n" push "$REG_IMAGE" >"$d/push.log" 2>&1 || { cat "$d/push.log" >&2; die "[$n] push failed"; }
  dk "$n" rmi "$REG_IMAGE" >/dev/null
  dk "$n" pull "$REG_IMAGE" >"$d/pull.log" 2>&1 || { cat "$d/pull.log" >&2; die "[$n] pull failed"; }
  dk "$n" rmi "$REG_IMAGE" >/dev/null
  dk "$n" logout "127.0.0.1:$DC_REG_PORT" >/dev/null 2>&1 || true
  rm -rf "$DOCKER_CONFIG"
  log "[$n] registry login + push + rmi + pull round trip ok ($REG_IMAGE stays in the registry)"

  # search via the stub
  out=$(curl -sS --unix-socket "$(engine_sock "$n")" "http://docker/v1.41/images/search?term=127.0.0.1:$DC_STUB_PORT/foo") ||
    die "[$n] GET /images/search failed"
  case "$out" in
    *'"foo/alpha"'*'"foo/beta"'*) ;;
    *) show_log "$d/search-stub.log"; die "[$n] search via stub returned unexpected: $out" ;;
  esac
  log "[$n] GET /images/search?term=127.0.0.1:$DC_STUB_PORT/foo -> stub results"
}
engine_checks old >"$DC_S/old/checks.log" 2>&1 &
c_old=$!
engine_checks new >"$DC_S/new/checks.log" 2>&1 &
c_new=$!
rc=0
wait "$c_old" || { rc=1; cat "$DC_S/old/checks.log" >&2; }
wait "$c_new" || { rc=1; cat "$DC_S/new/checks.log" >&2; }
[ "$rc" = 0 ] || die "engine checks failed (see above)"
cat "$DC_S/old/checks.log" "$DC_S/new/checks.log" >&2

# ---------------------------------------------------------------- mTLS checks
T="$DC_S/tls"
tls_ok() { [ "$(curl -s --max-time 5 --cacert "$T/client/ca.pem" --cert "$T/client/cert.pem" --key "$T/client/key.pem" "https://127.0.0.1:$DC_TLS_PORT/_ping")" = OK ]; }
wait_until 20 "mTLS endpoint https://127.0.0.1:$DC_TLS_PORT" tls_ok || {
  show_log "$DC_S/socat-tls-outer.log"; show_log "$DC_S/new/socat-tls-inner.log"; show_log "$DC_S/new/dockerd.log"
  die "mTLS endpoint does not answer /_ping with the client certificate"
}
if curl -s --max-time 5 --cacert "$T/client/ca.pem" "https://127.0.0.1:$DC_TLS_PORT/_ping" 2>/dev/null | grep -q OK; then
  die "mTLS endpoint answered without a client certificate"
fi
if curl -s --max-time 5 --cacert "$T/client/ca.pem" --cert "$T/wrong/cert.pem" --key "$T/wrong/key.pem" "https://127.0.0.1:$DC_TLS_PORT/_ping" 2>/dev/null | grep -q OK; then
  die "mTLS endpoint accepted a client certificate from the wrong CA"
fi
if curl -s --max-time 5 --cacert "$T/wrong/ca.pem" --cert "$T/client/cert.pem" --key "$T/client/key.pem" "https://127.0.0.1:$DC_TLS_PORT/_ping" >/dev/null 2>&1; then
  die "server certificate verified against the wrong CA"
fi
if curl -s --max-time 5 --cacert "$T/client/ca.pem" --cert "$T/client/cert.pem" --key "$T/client/key.pem" "https://127.0.0.2:$DC_TLS_PORT/_ping" >/dev/null 2>&1; then
  die "https://127.0.0.2:$DC_TLS_PORT passed hostname verification (it must not: the certificate names 127.0.0.1 and localhost only)"
fi
[ "$(curl -s --max-time 5 -k --cert "$T/client/cert.pem" --key "$T/client/key.pem" "https://127.0.0.2:$DC_TLS_PORT/_ping")" = OK ] ||
  die "https://127.0.0.2:$DC_TLS_PORT does not reach the engine"
log "mTLS https://127.0.0.1:$DC_TLS_PORT: client cert -> OK; no cert / wrong-CA cert / wrong CA -> refused; 127.0.0.2 -> hostname mismatch"

# ---------------------------------------------------------------- proxy checks
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@"; }
proxy_ok() { [ "$(code -u "$PROXY_USER:$PROXY_PASS" "http://127.0.0.1:$DC_BASIC_PORT/_ping")" = 200 ]; }
wait_until 20 "nginx proxy" proxy_ok || { show_log "$N/error.log"; show_log "$N/stderr.log"; die "nginx Basic proxy does not answer 200 with the right credentials"; }
[ "$(code "http://127.0.0.1:$DC_BASIC_PORT/_ping")" = 401 ] || die "Basic proxy: missing credentials not refused with 401"
[ "$(code -u "$PROXY_USER:wrong" "http://127.0.0.1:$DC_BASIC_PORT/_ping")" = 401 ] || die "Basic proxy: wrong password not refused with 401"
[ "$(code -H "Authorization: Bearer $PROXY_TOKEN" "http://127.0.0.1:$DC_BEARER_PORT/_ping")" = 200 ] || die "Bearer proxy: right token not answered with 200"
[ "$(code "http://127.0.0.1:$DC_BEARER_PORT/_ping")" = 401 ] || die "Bearer proxy: missing token not refused with 401"
[ "$(code -H "Authorization: Bearer wrong" "http://127.0.0.1:$DC_BEARER_PORT/_ping")" = 401 ] || die "Bearer proxy: wrong token not refused with 401"
[ "$(code -u "$PROXY_USER:$PROXY_PASS" "http://127.0.0.1:$DC_BEARER_PORT/_ping")" = 401 ] || die "Bearer proxy: Basic credentials not refused with 401"
log "nginx proxy: Basic :$DC_BASIC_PORT and Bearer :$DC_BEARER_PORT -> 200 with right credentials, 401 otherwise"

# ---------------------------------------------------------------- sshd (ssh:// endpoints)
start_sshd_all

# ---------------------------------------------------------------- env.json
env \
  H_STATE="$DC_S" H_IMAGE="$DC_IMAGE" H_REG_USER="$REG_USER" H_REG_PASS="$REG_PASS" H_REG_IMAGE="$REG_IMAGE" \
  H_PROXY_USER="$PROXY_USER" H_PROXY_PASS="$PROXY_PASS" H_PROXY_TOKEN="$PROXY_TOKEN" \
  H_REG_PORT="$DC_REG_PORT" H_STUB_PORT="$DC_STUB_PORT" H_TLS_PORT="$DC_TLS_PORT" \
  H_BASIC_PORT="$DC_BASIC_PORT" H_BEARER_PORT="$DC_BEARER_PORT" H_PREFIX="$DC_PREFIX" \
  "$NODE_BIN" -e '
const fs = require("node:fs");
const e = process.env, S = e.H_STATE;
const engine = (name) => {
  const v = JSON.parse(fs.readFileSync(`${S}/${name}/version.json`, "utf8"));
  const rd = (f) => fs.readFileSync(`${S}/${name}/${f}`, "utf8").trim();
  return {
    name,
    host: `unix://${S}/${name}/docker.sock`,
    version: v.Version,
    apiVersion: v.ApiVersion,
    minApiVersion: v.MinAPIVersion,
    netns: `${e.H_PREFIX}-${name}`,
    pidfile: `${S}/${name}/docker.pid`,
    registry: `127.0.0.1:${e.H_REG_PORT}`,
    searchRegistry: `127.0.0.1:${e.H_STUB_PORT}`,
    storageDriver: rd("storage-driver"),
    containerNetworkCheck: rd("netcheck"),
  };
};
const out = {
  stateDir: S,
  image: e.H_IMAGE,
  engines: [engine("old"), engine("new")],
  registry: { username: e.H_REG_USER, password: e.H_REG_PASS, image: e.H_REG_IMAGE },
  tls: {
    host: `tcp://127.0.0.1:${e.H_TLS_PORT}`,
    mismatchHost: `tcp://127.0.0.2:${e.H_TLS_PORT}`,
    engine: "new",
    caCert: `${S}/tls/client/ca.pem`,
    clientCert: `${S}/tls/client/cert.pem`,
    clientKey: `${S}/tls/client/key.pem`,
    wrongCaCert: `${S}/tls/wrong/ca.pem`,
    wrongClientCert: `${S}/tls/wrong/cert.pem`,
    wrongClientKey: `${S}/tls/wrong/key.pem`,
    certDir: `${S}/tls/client`,
    wrongCertDir: `${S}/tls/wrong`,
  },
  proxy: {
    engine: "new",
    basicHost: `tcp://127.0.0.1:${e.H_BASIC_PORT}`,
    username: e.H_PROXY_USER,
    password: e.H_PROXY_PASS,
    bearerHost: `tcp://127.0.0.1:${e.H_BEARER_PORT}`,
    token: e.H_PROXY_TOKEN,
  },
};
fs.writeFileSync(`${S}/env.json.tmp`, JSON.stringify(out, null, 2) + "\n");
fs.renameSync(`${S}/env.json.tmp`, `${S}/env.json`);
' || die "could not write env.json"
chmod 644 "$ENV_JSON"
ssh_patch_env_json "$ENV_JSON"

# ---------------------------------------------------------------- Podman (its own namespace and registries)
bash "$HARNESS_DIR/podman.sh" up

log "$("$NODE_BIN" -p 'require(process.argv[1]).engines.map((e) => `${e.name} engine: ${e.version} (API ${e.apiVersion}, ${e.storageDriver})`).join(", ")' "$ENV_JSON")"
log "harness up in $((SECONDS - T_START))s; wrote $ENV_JSON"
printf '%s\n' "$ENV_JSON"
