#!/usr/bin/env bash
# Install the Helm engine helmdeck renders charts with when no `helm` binary is
# available: the helm-python-sdk wheel (Helm's v4 Go SDK built as a shared
# library) in <repo>/.venv, plus an executable wrapper <repo>/.venv/bin/helm
# that runs tools/helm-shim/helm with the right Python.
#
# Idempotent: when a working engine is already installed it changes nothing.
# The last line printed on stdout is the path of the `helm` it provides, e.g.
#
#   HELMDECK_HELM=$(tools/install-helm-engine.sh | tail -n 1)
#
# Needs python3 >= 3.10 and access to PyPI (or a configured pip index/proxy).
# When the venv module is missing (Debian/Ubuntu without python3-venv) it
# installs python3-venv with apt-get when running as root, and otherwise falls
# back to `pip install --target <repo>/.venv/pylib`.
set -euo pipefail

SDK_PACKAGE="helm-python-sdk"
SDK_VERSION="0.2.2"

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
root=$(cd -- "$here/.." && pwd -P)
venv="$root/.venv"
pylib="$venv/pylib"
shim="$root/tools/helm-shim/helm"
wrapper="$venv/bin/helm"
stamp="# engine: $SDK_PACKAGE==$SDK_VERSION"

log() { printf 'install-helm-engine: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ -f "$shim" ] || die "missing $shim"
chmod +x "$shim" 2>/dev/null || true

# Does the wrapper exist, pin the expected SDK and answer `helm version`?
engine_ok() {
    [ -x "$wrapper" ] || return 1
    grep -qxF "$stamp" "$wrapper" 2>/dev/null || return 1
    local out
    out=$("$wrapper" version --short 2>/dev/null) || return 1
    case "$out" in v4.*) return 0 ;; *) return 1 ;; esac
}

# Can this interpreter import the pinned SDK (optionally with extra PYTHONPATH)?
sdk_ok() {
    local py=$1 path=${2:-}
    PYTHONPATH="$path" "$py" - "$SDK_PACKAGE" "$SDK_VERSION" >/dev/null 2>&1 <<'EOF'
import sys
from importlib import metadata
if metadata.version(sys.argv[1]) != sys.argv[2]:
    sys.exit(1)
import helm_python
helm_python.helm_sdk_version()
EOF
}

python_ok() {
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1
}

write_venv_wrapper() {
    mkdir -p "$venv/bin"
    local tmp="$wrapper.tmp.$$"
    cat >"$tmp" <<EOF
#!/bin/sh
# helm for helmdeck, written by tools/install-helm-engine.sh
$stamp
# Runs tools/helm-shim/helm with this venv's Python; paths are resolved from
# this file's location so the checkout can move.
self=\$(readlink -f -- "\$0" 2>/dev/null) || self=\$0
bin=\$(dirname -- "\$self")
exec "\$bin/python" "\$bin/../../tools/helm-shim/helm" "\$@"
EOF
    chmod +x "$tmp"
    mv -f "$tmp" "$wrapper"
}

write_target_wrapper() {
    local py=$1
    mkdir -p "$venv/bin"
    local tmp="$wrapper.tmp.$$"
    cat >"$tmp" <<EOF
#!/bin/sh
# helm for helmdeck, written by tools/install-helm-engine.sh
$stamp
# Runs tools/helm-shim/helm with $py and the SDK installed in .venv/pylib.
self=\$(readlink -f -- "\$0" 2>/dev/null) || self=\$0
bin=\$(dirname -- "\$self")
PYTHONPATH="\$bin/../pylib\${PYTHONPATH:+:\$PYTHONPATH}"
export PYTHONPATH
exec "$py" "\$bin/../../tools/helm-shim/helm" "\$@"
EOF
    chmod +x "$tmp"
    mv -f "$tmp" "$wrapper"
}

finish() {
    engine_ok || die "the installed engine does not run: try '$wrapper version' to see why"
    log "Helm engine ready: $("$wrapper" version --short)"
    echo "$wrapper"
    exit 0
}

# 1. Already installed and working: nothing to do.
if engine_ok; then
    echo "$wrapper"
    exit 0
fi

# 2. A venv (or --target dir) that already holds the SDK: only the wrapper is missing.
if [ -x "$venv/bin/python" ] && sdk_ok "$venv/bin/python"; then
    write_venv_wrapper
    finish
fi

# Pick a Python >= 3.10.
py=""
for candidate in "${PYTHON:-}" python3 python3.13 python3.12 python3.11 python3.10; do
    [ -n "$candidate" ] || continue
    found=$(command -v "$candidate" 2>/dev/null) || continue
    if python_ok "$found"; then py=$found; break; fi
done
[ -n "$py" ] || die "python3 >= 3.10 is required (install it, or set PYTHON=/path/to/python3)"

if [ -d "$pylib" ] && sdk_ok "$py" "$pylib"; then
    write_target_wrapper "$py"
    finish
fi

# 3. Create the venv; on Debian/Ubuntu the venv module may need python3-venv.
make_venv() {
    [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1 && return 0
    "$py" -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/python" -m pip --version >/dev/null 2>&1
}

if ! make_venv; then
    pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    real_py=$(readlink -f -- "$py" 2>/dev/null || echo "$py")
    # python3-venv only helps Debian's own interpreter, and only when missing.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
        && case "$real_py" in /usr/bin/*) true ;; *) false ;; esac \
        && ! dpkg -s "python$pyver-venv" >/dev/null 2>&1; then
        log "python venv module missing: installing python$pyver-venv with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -q --no-upgrade "python$pyver-venv" >/dev/null 2>&1 \
            || { apt-get update -q >/dev/null 2>&1 \
                 && apt-get install -y -q --no-upgrade "python$pyver-venv" >/dev/null 2>&1; } \
            || log "apt-get could not install python$pyver-venv"
        # A half-made venv (no pip) must be recreated.
        if ! make_venv; then
            rm -rf "$venv/bin" "$venv/lib" "$venv/lib64" "$venv/include" "$venv/pyvenv.cfg"
            make_venv || true
        fi
    fi
fi

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
    log "installing $SDK_PACKAGE==$SDK_VERSION into $venv"
    PIP_ROOT_USER_ACTION=ignore "$venv/bin/python" -m pip install --disable-pip-version-check -q "$SDK_PACKAGE==$SDK_VERSION" >&2 \
        || die "pip could not install $SDK_PACKAGE==$SDK_VERSION"
    sdk_ok "$venv/bin/python" || die "$SDK_PACKAGE installed but does not load (unsupported platform?)"
    write_venv_wrapper
    finish
fi

# 4. No venv possible: install into .venv/pylib with the system pip.
if "$py" -m pip --version >/dev/null 2>&1; then
    log "no usable venv module: installing $SDK_PACKAGE==$SDK_VERSION into $pylib"
    # A venv attempt may have left a python without pip behind; the wrapper
    # uses the system interpreter instead.
    rm -f "$venv/bin/python" "$venv/bin/python3" "$venv/pyvenv.cfg"
    mkdir -p "$pylib"
    PIP_ROOT_USER_ACTION=ignore "$py" -m pip install --disable-pip-version-check -q --upgrade --target "$pylib" \
        "$SDK_PACKAGE==$SDK_VERSION" >&2 \
        || die "pip could not install $SDK_PACKAGE==$SDK_VERSION"
    sdk_ok "$py" "$pylib" || die "$SDK_PACKAGE installed but does not load (unsupported platform?)"
    write_target_wrapper "$py"
    finish
fi

die "cannot install $SDK_PACKAGE: neither the venv module nor pip is available for $py
  (on Debian/Ubuntu: apt-get install python3-venv, or python3-pip)"
