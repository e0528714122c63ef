#!/usr/bin/env bash
# Install what the Docker Connector test harness needs. Idempotent; fast
# (well under 2 s) when everything is present.
#  1. Debian packages (apt-get update + install only if something is missing).
#     Services are not started (policy-rc.d for the duration of the install).
#  2. A current Docker Engine (28.x) from Debian's newer suite, NOT installed
#     system-wide: its .debs are fetched with a private apt configuration
#     (own sources list, lists and cache dirs; the system's apt sources are
#     never changed) and unpacked with dpkg -x into
#     ${DC_ENGINE_CACHE:-/var/cache/docker-connector/engine-new}.
# Environment:
#   DC_ENGINE_CACHE       where the new engine is unpacked
#   DC_ENGINE_SUITES      suites to try, in order (default "sid forky trixie")
#   DC_ENGINE_MAJOR       wanted major version (default 28)
#   DC_ENGINE_STRICT=1    fail instead of taking a newer major when no suite has it
#   DC_INSTALL_FORCE=1    refetch the engine even if the cache looks complete
set -euo pipefail

log() { printf '[install %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "install.sh must run as root"

PKGS=(docker.io nginx docker-registry busybox-static apache2-utils iproute2 socat openssl iptables hyperfine curl chromium openssh-server openssh-client podman netavark aardvark-dns redis-server)
CACHE=${DC_ENGINE_CACHE:-/var/cache/docker-connector/engine-new}
CACHE=${CACHE%/}
SUITES=${DC_ENGINE_SUITES:-sid forky trixie}
MAJOR=${DC_ENGINE_MAJOR:-28}
# what the new engine needs to run: dockerd (+docker-proxy, docker-init link),
# containerd + containerd-shim-runc-v2, runc, docker-init (tini-static)
ENGINE_PKGS=(docker.io containerd runc tini-static)
ENGINE_FILES=(usr/sbin/dockerd usr/sbin/docker-proxy usr/bin/containerd usr/bin/containerd-shim-runc-v2
  usr/sbin/runc usr/bin/docker-init)

export DEBIAN_FRONTEND=noninteractive

# ------------------------------------------------------------ Debian packages
missing=()
while read -r pkg status; do
  [ "$status" = installed ] || missing+=("$pkg")
done < <(
  for p in "${PKGS[@]}"; do
    s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    printf '%s %s\n' "$p" "${s:-absent}"
  done
)

POLICY_CREATED=0
cleanup() {
  if [ "$POLICY_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  if [ -n "${WORK:-}" ] && [ -d "$WORK" ]; then rm -rf "$WORK"; fi
  if [ -n "${STAGE:-}" ] && [ -d "$STAGE" ]; then rm -rf "$STAGE"; fi
}
trap cleanup EXIT

if [ ${#missing[@]} -gt 0 ]; then
  log "installing missing packages: ${missing[*]}"
  # keep the Debian docker/containerd/nginx services from being started
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    POLICY_CREATED=1
  fi
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || die "apt-get install failed"
  if [ "$POLICY_CREATED" = 1 ]; then rm -f /usr/sbin/policy-rc.d; POLICY_CREATED=0; fi
else
  log "Debian packages present"
fi

# ------------------------------------------------------------ new engine
cache_ok() {
  local f
  [ -f "$CACHE/ENGINE-INFO" ] || return 1
  for f in "${ENGINE_FILES[@]}"; do [ -x "$CACHE/$f" ] || return 1; done
  "$CACHE/usr/sbin/dockerd" --version 2>/dev/null | grep -qE "^Docker version [0-9]+\." || return 1
  "$CACHE/usr/sbin/runc" --version >/dev/null 2>&1 || return 1
}

if [ "${DC_INSTALL_FORCE:-0}" != 1 ] && cache_ok; then
  log "new engine cached: $("$CACHE/usr/sbin/dockerd" --version) in $CACHE"
  exit 0
fi

# the mirror URI of the machine's own Debian sources (never hard-coded)
mirror_info() {
  local f
  # deb822 .sources files
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # print "URI KEYRING" of stanzas that carry a plain Debian suite (not -security/-updates)
    awk '
      function reset() { uris = ""; suites = ""; comps = ""; key = ""; enabled = 1; isdeb = 1 }
      function flush(   n, s, i, ok, u) {
        if (enabled && isdeb && uris != "" && suites != "" && comps ~ /(^|[ \t])main([ \t]|$)/) {
          n = split(suites, s, /[ \t]+/); ok = 0
          for (i = 1; i <= n; i++) if (s[i] != "" && s[i] !~ /-(security|updates|backports)$/ && s[i] !~ /\//) ok = 1
          if (ok) { split(uris, u, /[ \t]+/); print u[1], (key == "" ? "-" : key) }
        }
        reset()
      }
      BEGIN { reset() }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:" { isdeb = ($0 ~ /[ \t]deb([ \t]|$)/) }
      tolower($1) == "enabled:" && tolower($2) == "no" { enabled = 0 }
      tolower($1) == "uris:" { $1 = ""; uris = $0; sub(/^[ \t]+/, "", uris) }
      tolower($1) == "suites:" { $1 = ""; suites = $0 }
      tolower($1) == "components:" { $1 = ""; comps = $0 }
      tolower($1) == "signed-by:" { key = $2 }
      END { flush() }
    ' "$f"
  done
  # one-line format
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '
      /^[ \t]*deb[ \t]/ {
        i = 2; key = "-"
        if ($2 ~ /^\[/) { for (; i <= NF; i++) { if ($i ~ /signed-by=/) { k = $i; sub(/.*signed-by=/, "", k); sub(/\]$/, "", k); key = k } if ($i ~ /\]$/) { i++; break } } }
        uri = $i; suite = $(i + 1)
        if (suite !~ /-(security|updates|backports)$/ && suite !~ /\// && $0 ~ /[ \t]main([ \t]|$)/) print uri, key
      }' "$f"
  done
}

pick=$(mirror_info | awk '$1 ~ /^https?:\/\// && $1 ~ /debian\/?$/' | head -n 1)
[ -n "$pick" ] || pick=$(mirror_info | awk '$1 ~ /^https?:\/\//' | head -n 1)
[ -n "$pick" ] || die "could not find a Debian mirror URI in /etc/apt/sources.list(.d)"
MIRROR=${pick%% *}
KEYRING=${pick#* }
if [ "$KEYRING" = "-" ] || [ ! -f "$KEYRING" ]; then KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg; fi
[ -f "$KEYRING" ] || die "no Debian archive keyring at $KEYRING"
log "fetching a newer Docker Engine from Debian suites ($SUITES) via the machine's mirror"

mkdir -p "$(dirname "$CACHE")"
WORK=$(mktemp -d "$(dirname "$CACHE")/.engine-work.XXXXXX")
chmod 755 "$WORK"

apt_private() { # apt_private SUITE apt-get|apt-cache ARGS...
  local suite=$1 tool=$2; shift 2
  local d="$WORK/apt-$suite"
  "$tool" \
    -o Dir::Etc::sourcelist="$d/sources.list" -o Dir::Etc::sourceparts=- \
    -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" \
    -o Dir::Etc::preferences=/dev/null -o Dir::Etc::preferencesparts=- \
    -o APT::Sandbox::User=root -o Acquire::Languages=none \
    "$@"
}

chosen="" chosen_ver="" fallback="" fallback_ver=""
for suite in $SUITES; do
  d="$WORK/apt-$suite"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial"
  echo "deb [signed-by=$KEYRING] $MIRROR $suite main" >"$d/sources.list"
  if ! apt_private "$suite" apt-get update -qq >"$d/update.log" 2>&1; then
    log "suite $suite: apt-get update failed ($(tail -n 1 "$d/update.log"))"
    continue
  fi
  ver=$(apt_private "$suite" apt-cache madison docker.io 2>/dev/null | awk -F'|' 'NR==1{gsub(/[ \t]/,"",$2); print $2}')
  log "suite $suite: docker.io ${ver:-not found}"
  [ -n "$ver" ] || continue
  maj=${ver%%.*}; maj=${maj#*:}
  if [ "$maj" = "$MAJOR" ]; then chosen=$suite; chosen_ver=$ver; break; fi
  if [ "$maj" -gt "$MAJOR" ] 2>/dev/null && [ -z "$fallback" ]; then fallback=$suite; fallback_ver=$ver; fi
done
if [ -z "$chosen" ]; then
  if [ -n "$fallback" ] && [ "${DC_ENGINE_STRICT:-0}" != 1 ]; then
    log "WARNING: no suite has docker.io $MAJOR.x; taking $fallback_ver from $fallback"
    chosen=$fallback; chosen_ver=$fallback_ver
  else
    die "no suite among ($SUITES) has docker.io $MAJOR.x"
  fi
fi

dl="$WORK/debs"
mkdir -p "$dl"
specs=()
for p in "${ENGINE_PKGS[@]}"; do
  v=$(apt_private "$chosen" apt-cache madison "$p" 2>/dev/null | awk -F'|' 'NR==1{gsub(/[ \t]/,"",$2); print $2}')
  [ -n "$v" ] || die "package $p not found in $chosen"
  specs+=("$p=$v")
done
log "downloading from $chosen: ${specs[*]}"
(cd "$dl" && apt_private "$chosen" apt-get download -qq "${specs[@]}") >"$WORK/download.log" 2>&1 || {
  cat "$WORK/download.log" >&2
  die "apt-get download failed"
}

STAGE="$CACHE.new.$$"
rm -rf "$STAGE"
mkdir -p "$STAGE"
for deb in "$dl"/*.deb; do
  dpkg -x "$deb" "$STAGE" || die "dpkg -x $deb failed"
done
for f in "${ENGINE_FILES[@]}"; do
  [ -e "$STAGE/$f" ] || die "unpacked engine lacks $f"
done
"$STAGE/usr/sbin/dockerd" --version | grep -qE "^Docker version $MAJOR\." ||
  [ "$chosen_ver" = "$fallback_ver" ] ||
  die "unpacked dockerd is not $MAJOR.x: $("$STAGE/usr/sbin/dockerd" --version 2>&1)"
"$STAGE/usr/bin/containerd" --version >/dev/null 2>&1 || die "unpacked containerd does not run: $("$STAGE/usr/bin/containerd" --version 2>&1)"

# runc from the newer suite may need a newer glibc than this machine has
# (sid's runc needs GLIBC_2.38; bookworm has 2.36). Then use the system's
# runc (Debian's runc package, a dependency of docker.io) inside the cache.
runc_note="runc from $chosen"
if ! err=$("$STAGE/usr/sbin/runc" --version 2>&1); then
  [ -x /usr/sbin/runc ] || die "runc from $chosen does not run here ($err) and there is no /usr/sbin/runc to fall back to"
  mv "$STAGE/usr/sbin/runc" "$STAGE/usr/sbin/runc.$chosen-unusable"
  cp /usr/sbin/runc "$STAGE/usr/sbin/runc"
  runc_note="system runc $(/usr/sbin/runc --version | head -n 1 | awk '{print $3}') (runc from $chosen does not run here: ${err##*: })"
  log "runc from $chosen does not run on this machine (${err%%$'\n'*}); using the system's runc in the cache"
fi
"$STAGE/usr/sbin/runc" --version >/dev/null || die "runc in the cache does not run"

{
  echo "suite=$chosen"
  echo "docker.io=$chosen_ver"
  echo "packages=${specs[*]}"
  echo "dockerd=$("$STAGE/usr/sbin/dockerd" --version)"
  echo "containerd=$("$STAGE/usr/bin/containerd" --version)"
  echo "runc=$runc_note"
  echo "fetched=$(date -Is)"
} >"$STAGE/ENGINE-INFO"

rm -rf "$CACHE.old"
if [ -e "$CACHE" ]; then mv "$CACHE" "$CACHE.old"; fi
mv "$STAGE" "$CACHE"
STAGE=""
rm -rf "$CACHE.old"
log "new engine ready: $("$CACHE/usr/sbin/dockerd" --version) in $CACHE"
