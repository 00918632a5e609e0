#!/usr/bin/env bash
# Installs what bench/run.sh and bench/idle-memory.sh need, idempotently:
#   - nginx (the static target), wrk (reference generator), GNU time (CPU and
#     peak RSS of a process), python3 (parses the tools' outputs), curl;
#   - oha (the other reference generator), from crates.io, only when it is
#     not already on PATH (it compiles for a few minutes);
#   - Locust (LOCUST_VERSION, from PyPI) in a virtualenv at bench/.venv, for
#     the Locust rows of bench/run.sh (bench/locustfile.py).
# Needs root for apt-get (the project's machines run as root).
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }

# apt_update_once: `apt-get update`, at most once per run of this script.
APT_UPDATED=0
apt_update_once() {
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "apt-get update"
        apt-get update -qq
        APT_UPDATED=1
    fi
}

# apt_install PKG...: installs those of the packages not installed yet.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    apt_update_once
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# 1. nginx: the small "light" flavour when the distribution has it.
if ! command -v nginx >/dev/null; then
    apt_update_once
    if apt-cache show nginx-light >/dev/null 2>&1; then
        apt_install nginx-light
    else
        apt_install nginx
    fi
fi

# 2. wrk, GNU time (/usr/bin/time), python3, curl.
command -v wrk >/dev/null || apt_install wrk
[[ -x /usr/bin/time ]] || apt_install time
command -v python3 >/dev/null || apt_install python3
command -v curl >/dev/null || apt_install curl
command -v valgrind >/dev/null || apt_install valgrind   # bench/callgrind.sh
command -v h2load >/dev/null || apt_install nghttp2-client # bench/protocols.sh
command -v openssl >/dev/null || apt_install openssl       # its test certificate

# 3. oha from crates.io (cargo puts it in ~/.cargo/bin).
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v oha >/dev/null; then
    log "cargo install oha --locked (a few minutes)"
    cargo install oha --locked
fi

# 4. Locust from PyPI, pinned, in bench/.venv (ignored by git). Reinstalled
#    only when the venv's locust is not LOCUST_VERSION.
LOCUST_VERSION=${LOCUST_VERSION:-2.47.0}
VENV=$(cd "$(dirname "$0")" && pwd)/.venv
if [[ $("$VENV/bin/locust" --version 2>/dev/null | awk '{ print $2; exit }') != "$LOCUST_VERSION" ]]; then
    # Debian's python3 needs python3-venv (ensurepip) to create a venv.
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
    log "pip install locust==$LOCUST_VERSION into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check "locust==$LOCUST_VERSION"
fi

# 5. Optional: perf, to see where a generator spends its CPU. Not fatal.
if ! command -v perf >/dev/null; then
    apt_install linux-perf || log "linux-perf not installable; perf profiles skipped"
fi

log "ok: $(nginx -v 2>&1), $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), $(oha --version), $("$VENV/bin/locust" --version 2>/dev/null | awk '{ print $1, $2 }')"
