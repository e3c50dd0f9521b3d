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
