#!/usr/bin/env bash
# Installs what Drydock needs on Debian 12, as root, only when something is missing:
# the Debian packages (containerd, runc, nats-server, redis-server, ...) and node_modules.
# Idempotent; prints one line per check that leads to an action.
#   bash tools/install/ensure-deps.sh               # packages + node_modules
#   bash tools/install/ensure-deps.sh --docker-cli  # also the docker CLI (end-to-end tests)
#   bash tools/install/ensure-deps.sh --dockerd     # also dockerd (npm run bench)
#   bash tools/install/ensure-deps.sh --netplugins  # also netavark + aardvark-dns (npm run bench:netplugins)
# Sourcing it defines the functions without running anything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

APT_PACKAGES=(containerd runc nats-server redis-server docker-registry golang-github-containerd-containerd-dev
  libprotobuf-dev protobuf-compiler busybox-static skopeo iproute2 procps gcc g++ libc6-dev make util-linux
  xz-utils bzip2 containernetworking-plugins iptables)

# "kind:what package": a command in PATH, a file or directory, or an installed package.
CHECKS=(
  "cmd:containerd containerd" "cmd:ctr containerd" "cmd:containerd-shim-runc-v2 containerd" "cmd:runc runc"
  "cmd:nats-server nats-server" "cmd:redis-server redis-server" "cmd:docker-registry docker-registry"
  "file:/usr/share/gocode/src/github.com/containerd/containerd/api golang-github-containerd-containerd-dev"
  "file:/usr/include/google/protobuf/any.proto libprotobuf-dev" "cmd:protoc protobuf-compiler"
  "pkg:busybox-static busybox-static" "cmd:skopeo skopeo" "cmd:ip iproute2" "cmd:ps procps" "cmd:gcc gcc" "cmd:g++ g++"
  "file:/usr/include/stdio.h libc6-dev" "cmd:make make" "cmd:findmnt util-linux"
  "cmd:xz xz-utils" "cmd:bzip2 bzip2"
  "file:/usr/lib/cni/bridge containernetworking-plugins" "file:/usr/lib/cni/portmap containernetworking-plugins"
  "cmd:iptables iptables"
)

# "service package": services that Debian packages may start on install or at boot.
# Drydock runs its own instances on its own sockets and ports.
SERVICES=("containerd containerd" "redis-server redis-server" "nats-server nats-server"
  "docker-registry docker-registry" "docker.socket docker.io" "docker docker.io")

APT_UPDATED=0

log() { echo "[deps] $*"; }

as_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

check() {
  local kind="${1%%:*}" what="${1#*:}"
  case "$kind" in
    cmd) command -v "$what" >/dev/null 2>&1 ;;
    file) [[ -e "$what" ]] ;;
    pkg) pkg_installed "$what" ;;
  esac
}

apt_install() {
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  local wanted=() p before
  for p in "$@"; do pkg_installed "$p" || wanted+=("$p"); done
  log "apt-get install ${wanted[*]:-$*}"
  before="$(installed_packages)"
  # policy-rc.d exit 101 keeps maintainer scripts from starting services (Debian's convention).
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    own_policy=1
  fi
  local rc=0
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || rc=$?
  [[ $own_policy -eq 1 ]] && as_root rm -f "$policy"
  [[ $rc -eq 0 ]] || { log "apt-get install failed ($rc)"; return "$rc"; }
  stop_system_services "$(comm -13 <(echo "$before") <(installed_packages))"
}

installed_packages() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" { print $2 }' | sort; }

# The stack uses its own sockets and ports: a system containerd/redis/nats/dockerd that a
# package install of ours started (or would start at boot, e.g. redis on 6379) is stopped
# and disabled. Services of packages that were there before are left alone.
stop_system_services() {
  local new="$1" entry s pkg
  for entry in "${SERVICES[@]}"; do
    read -r s pkg <<<"$entry"
    grep -qx "$pkg" <<<"$new" || continue
    if [[ -d /run/systemd/system ]] && systemctl list-unit-files "$s.service" "$s" 2>/dev/null | grep -q "^$s"; then
      if systemctl is-active --quiet "$s" || systemctl is-enabled --quiet "$s" 2>/dev/null; then
        log "disabling system service $s (Drydock runs its own)"
        as_root systemctl disable --now "$s" >/dev/null 2>&1 || true
      fi
    elif [[ -x /etc/init.d/$s ]] && as_root /etc/init.d/"$s" status >/dev/null 2>&1; then
      log "stopping system service $s (Drydock runs its own)"
      as_root /etc/init.d/"$s" stop >/dev/null 2>&1 || true
    fi
  done
}

ensure_packages() {
  local missing=() c
  for c in "${CHECKS[@]}"; do
    read -r what pkg <<<"$c"
    check "$what" || missing+=("$pkg (${what#*:})")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then log "Debian packages present"; return 0; fi
  log "missing: ${missing[*]}"
  apt_install "${APT_PACKAGES[@]}"
  for c in "${CHECKS[@]}"; do
    read -r what pkg <<<"$c"
    check "$what" || { log "still missing after install: ${what#*:} (package $pkg)"; return 1; }
  done
}

ensure_node_modules() {
  local major
  major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  if [[ $major -lt 20 ]]; then log "Node.js 20 or newer is required (found ${major})"; return 1; fi
  cd "$ROOT"
  if [[ -f package-lock.json ]]; then
    # npm writes node_modules/.package-lock.json on every install: older than the lockfile means stale.
    if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
      log "npm ci"
      npm ci --no-audit --no-fund --loglevel=error
    else
      log "node_modules up to date"
    fi
  elif [[ ! -d node_modules ]]; then
    log "npm install"
    npm install --no-audit --no-fund --loglevel=error
  fi
}

# The docker CLI for end-to-end tests. Debian 12 has no client-only package (docker-cli
# is newer Debian); docker.io brings dockerd too. Its maintainer scripts are kept from
# starting anything (policy-rc.d in apt_install), and whatever still came up because of
# the install (dockerd, docker.socket, or a containerd.service that docker.service pulled
# in under a site policy-rc.d that allows starts) is stopped: Drydock's gateway is the
# engine the CLI talks to, and the stack runs its own containerd. Docker 20.10's CLI is fine.
ensure_docker_cli() {
  if command -v docker >/dev/null 2>&1; then log "docker CLI present: $(command -v docker)"; return 0; fi
  if [[ $APT_UPDATED -eq 0 ]]; then log "apt-get update"; as_root apt-get update -qq; APT_UPDATED=1; fi
  # Captured, not piped into grep -q: under pipefail an early grep exit would SIGPIPE apt-cache.
  local candidate
  candidate="$(apt-cache policy docker-cli 2>/dev/null || true)"
  if grep -q 'Candidate: [0-9]' <<<"$candidate"; then
    apt_install docker-cli
  else
    log "no docker-cli package: installing docker.io for its client; dockerd must not be started"
    install_docker_io || return 1
  fi
  command -v docker >/dev/null 2>&1 || { log "docker CLI still missing"; return 1; }
  log "docker CLI installed: $(docker --version 2>/dev/null || command -v docker)"
}

# Debian's docker.io (dockerd 20.10 and the CLI) with nothing left running: its maintainer
# scripts are kept from starting anything (policy-rc.d in apt_install), and whatever still
# came up because of the install (dockerd, docker.socket, or a containerd.service that
# docker.service pulled in under a site policy-rc.d that allows starts) is stopped.
install_docker_io() {
  local units=(docker.socket docker containerd) was_active=() u dockerd_before=0
  for u in "${units[@]}"; do if service_active "$u"; then was_active+=("$u"); fi; done
  if pgrep -x dockerd >/dev/null 2>&1; then dockerd_before=1; fi
  apt_install docker.io
  for u in "${units[@]}"; do
    [[ " ${was_active[*]} " == *" $u "* ]] && continue
    service_active "$u" || continue
    log "stopping system service $u (started by the docker.io install; Drydock runs its own)"
    # docker's units are disabled too (no dockerd at boot, no socket activation); a
    # containerd.service that was there before only goes back to not running.
    if [[ $u == containerd ]]; then stop_service "$u" stop; else stop_service "$u" disable; fi
  done
  if [[ $dockerd_before -eq 0 ]] && pgrep -x dockerd >/dev/null 2>&1; then
    log "dockerd is running after the docker.io install and would not stop: stop it (Drydock's gateway serves the CLI)"
    return 1
  fi
}

# dockerd for `npm run bench` (Drydock against Docker Engine): the bench starts its own
# private dockerd and containerd under a temporary directory; no system service is used.
ensure_dockerd() {
  if command -v dockerd >/dev/null 2>&1; then log "dockerd present: $(command -v dockerd)"; return 0; fi
  if [[ $APT_UPDATED -eq 0 ]]; then log "apt-get update"; as_root apt-get update -qq; APT_UPDATED=1; fi
  log "installing docker.io for dockerd (the bench runs a private one; no system service is started)"
  install_docker_io || return 1
  command -v dockerd >/dev/null 2>&1 || { log "dockerd still missing after installing docker.io"; return 1; }
}

# Podman's netavark and aardvark-dns (Debian 12: 1.4.0), only for `npm run bench:netplugins`, which measures
# them against the CNI plugins Drydock drives. They run no service; Drydock itself never uses them.
ensure_netplugins() {
  if [[ -x /usr/lib/podman/netavark && -x /usr/lib/podman/aardvark-dns ]]; then log "netavark and aardvark-dns present"; return 0; fi
  apt_install netavark aardvark-dns
  [[ -x /usr/lib/podman/netavark ]] || { log "netavark still missing after installing it (/usr/lib/podman/netavark)"; return 1; }
}

# Debian's docker-compose 1.29 (docker-py) for the compose end-to-end tests; it runs no service.
ensure_docker_compose() {
  if command -v docker-compose >/dev/null 2>&1; then log "docker-compose present: $(command -v docker-compose)"; return 0; fi
  if [[ $APT_UPDATED -eq 0 ]]; then log "apt-get update"; as_root apt-get update -qq; APT_UPDATED=1; fi
  apt_install docker-compose
  command -v docker-compose >/dev/null 2>&1 || { log "docker-compose still missing after installing it"; return 1; }
}

# Whether a system service (systemd unit, else sysvinit script) is running.
service_active() {
  local s="$1"
  if [[ -d /run/systemd/system ]]; then
    systemctl is-active --quiet "$s" 2>/dev/null
  elif [[ $s != *.socket && -x /etc/init.d/$s ]]; then
    as_root /etc/init.d/"$s" status >/dev/null 2>&1
  else
    return 1
  fi
}

# stop_service NAME stop|disable
stop_service() {
  local s="$1" how="$2"
  if [[ -d /run/systemd/system ]]; then
    if [[ $how == disable ]]; then as_root systemctl disable --now "$s" >/dev/null 2>&1 || true
    else as_root systemctl stop "$s" >/dev/null 2>&1 || true; fi
  elif [[ -x /etc/init.d/$s ]]; then
    as_root /etc/init.d/"$s" stop >/dev/null 2>&1 || true
  fi
}

main() {
  ensure_packages
  ensure_node_modules
  local flag
  for flag in "$@"; do
    case "$flag" in
      --docker-cli) ensure_docker_cli ;;
      --dockerd) ensure_docker_cli; ensure_dockerd ;;
      --netplugins) ensure_netplugins ;;
    esac
  done
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
