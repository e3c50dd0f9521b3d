# Sourced by scripts/demo and scripts/test: makes sure the Helm engine helmdeck renders
# with is present, installing it from the project's own files. Exports HELMDECK_HELM.
# What only the tests need (kubectl, Prometheus, git servers, registries and bucket
# emulators) is in scripts/provision-tests.sh, which scripts/test sources too.

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
