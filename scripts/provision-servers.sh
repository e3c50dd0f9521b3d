# Sourced by scripts/provision.sh: the servers the remote-source tests run on loopback —
# Debian's docker-registry (OCI), moto (S3) and gcp-storage-emulator (GCS) from PyPI, the
# latter two (and bcrypt, for the registry's htpasswd file) in <repo>/.venv-servers.
# Idempotent and quiet; exports where each one is:
#   HELMDECK_TEST_REGISTRY, HELMDECK_TEST_MOTO, HELMDECK_TEST_GCS_EMULATOR, HELMDECK_TEST_PYTHON

_servers_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
_servers_venv="$_servers_root/.venv-servers"
_servers_pins="moto[server]==5.2.5 gcp-storage-emulator==2026.7.19 bcrypt==5.0.0"

if ! command -v docker-registry >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "provision: installing docker-registry (Debian) for the OCI tests" >&2
        apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
    else
        echo "provision: docker-registry is missing; install it (Debian: docker-registry) to run the OCI tests" >&2
    fi
fi
if command -v docker-registry >/dev/null 2>&1; then
    export HELMDECK_TEST_REGISTRY="$(command -v docker-registry)"
fi

if ! "$_servers_venv/bin/python" -c 'import moto, gcp_storage_emulator, bcrypt' >/dev/null 2>&1; then
    echo "provision: installing moto, gcp-storage-emulator and bcrypt into .venv-servers" >&2
    if python3 -m venv "$_servers_venv" >/dev/null 2>&1 || {
        [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null &&
            python3 -m venv "$_servers_venv"
    }; then
        # shellcheck disable=SC2086
        "$_servers_venv/bin/pip" install -q --disable-pip-version-check $_servers_pins >&2 ||
            echo "provision: pip install of $_servers_pins failed" >&2
    else
        echo "provision: cannot create $_servers_venv (python3 -m venv)" >&2
    fi
fi
if [ -x "$_servers_venv/bin/moto_server" ]; then
    export HELMDECK_TEST_MOTO="$_servers_venv/bin/moto_server"
fi
if [ -x "$_servers_venv/bin/gcp-storage-emulator" ]; then
    export HELMDECK_TEST_GCS_EMULATOR="$_servers_venv/bin/gcp-storage-emulator"
fi
if [ -x "$_servers_venv/bin/python" ]; then
    export HELMDECK_TEST_PYTHON="$_servers_venv/bin/python"
fi
