#!/usr/bin/env bash
# Validates the Kubernetes manifests offline against the bundled API schemas
# (kubernetes-validate, strict: an unknown or misspelled field fails), and
# checks that the scenario ConfigMap holds scenarios/shop.yaml exactly.
#
#   pip install kubernetes-validate
#   bash deploy/k8s/validate.sh             # validate (Kubernetes 1.30 by default)
#   K8S_VERSION=1.33.0 bash deploy/k8s/validate.sh
#   bash deploy/k8s/validate.sh --update    # regenerate scenario-configmap.yaml first
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
version=${K8S_VERSION:-1.30.0}
configmap="$here/scenario-configmap.yaml"
scenario="$root/scenarios/shop.yaml"

if ! command -v kubernetes-validate >/dev/null; then
  echo "k8s/validate: error: kubernetes-validate is not installed (pip install kubernetes-validate)" >&2
  exit 1
fi

if [[ ${1:-} == --update ]]; then
  python3 - "$scenario" "$configmap" <<'EOF'
import sys
src, out = sys.argv[1], sys.argv[2]
text = open(src, encoding="utf-8").read()
body = "".join(("    " + line if line.strip() else "") + "\n" for line in text.splitlines())
open(out, "w", encoding="utf-8").write(
    "# The scenario the master runs, mounted at /scenarios. Generated from\n"
    "# scenarios/shop.yaml by `bash deploy/k8s/validate.sh --update`; validate.sh\n"
    "# fails when the two differ.\n"
    "apiVersion: v1\n"
    "kind: ConfigMap\n"
    "metadata:\n"
    "  name: stampede-scenario\n"
    "  namespace: stampede\n"
    "  labels:\n"
    "    app.kubernetes.io/part-of: stampede\n"
    "data:\n"
    "  shop.yaml: |\n" + body)
EOF
  echo "k8s/validate: regenerated $configmap from scenarios/shop.yaml"
fi

# The ConfigMap must carry the repository's scenario, byte for byte.
python3 - "$scenario" "$configmap" <<'EOF'
import sys, yaml
src, cm = sys.argv[1], sys.argv[2]
want = open(src, encoding="utf-8").read()
got = yaml.safe_load(open(cm, encoding="utf-8"))["data"]["shop.yaml"]
if got != want:
    sys.exit(f"k8s/validate: error: {cm} differs from {src}; "
             "run `bash deploy/k8s/validate.sh --update`")
EOF

echo "== kubernetes-validate --strict -k $version deploy/k8s/*.yaml"
kubernetes-validate --strict -k "$version" "$here"/*.yaml
