# Sourced by scripts/test and scripts/demo: makes sure the tools helmdeck's tests and demo
# need are present, installing them from the project's own files. Exports HELMDECK_HELM.

_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"

# Helm: a real `helm` on PATH is used as is; otherwise the project-local engine
# (helm-python-sdk from PyPI, see tools/install-helm-engine.sh).
if [ -z "${HELMDECK_HELM:-}" ]; then
    if command -v helm >/dev/null 2>&1; then
        HELMDECK_HELM="$(command -v helm)"
    else
        HELMDECK_HELM="$(bash "$_root/tools/install-helm-engine.sh" | tail -n 1)"
    fi
fi
export HELMDECK_HELM

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
