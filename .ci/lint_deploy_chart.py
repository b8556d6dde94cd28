"""Checks the Helm chart without a cluster or a helm binary (run by .ci/lint-deploy.sh).

Helm itself comes from helm-python-sdk (Helm v4's Go library behind a C ABI, used via ctypes):
`helm_python.lint` is `helm lint`, `Chart.render` is `helm template`. For each values set:
  1. helm lint --strict finds no warning or error;
  2. helm template renders, every document parses as YAML and names apiVersion, kind and
     metadata.name;
  3. built-in kinds validate strictly against the Kubernetes OpenAPI schemas of the oldest
     version the chart supports and the newest one kubernetes-validate ships;
  4. the ServiceMonitor (a CRD, no bundled schema) has the fields the Prometheus Operator needs.
Then it checks that settings which cannot work are refused at render time, and that every leaf
value in values.yaml carries a comment.

Usage: python lint_deploy_chart.py CHART_DIR
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import helm_python as helm
import kubernetes_validate
import yaml

KUBE_VERSIONS = ("1.25.0", kubernetes_validate.latest_version())
# Kinds the chart renders from CRDs; they have no schema in kubernetes-validate.
CRD_KINDS = {"ServiceMonitor"}
# Values that must make rendering fail, with a word of the expected message.
MUST_FAIL = {
    "SQLite with two replicas": ({"replicaCount": 2}, "SQLite"),
    "SQLite with the HPA": ({"autoscaling": {"enabled": True}}, "SQLite"),
    "PostgreSQL without a URL": ({"database": {"type": "postgresql"}}, "database.url"),
    "unknown database type": ({"database": {"type": "mysql"}}, "database.type"),
    "short master key": ({"secrets": {"masterKey": "c2hvcnQ="}}, "32 bytes"),
}

failures: list[str] = []


def fail(message: str) -> None:
    failures.append(message)
    print(f"FAIL {message}")


def lint(chart: Path, label: str, values: dict | None) -> None:
    report = helm.lint(str(chart), values, strict=True)
    problems = [m for m in report.get("messages", []) if m.get("severity", 0) >= 2]
    for message in problems:
        fail(f"helm lint ({label}): {message.get('path')}: {message.get('error')}")
    for error in report.get("errors") or []:
        fail(f"helm lint ({label}): {error}")
    if not problems and not report.get("errors"):
        print(f"ok   helm lint --strict ({label})")


def render(chart: Path, values: dict | None) -> dict[str, str]:
    with helm.Chart.load(str(chart)) as loaded:
        return loaded.render(values, name="gw", namespace="session", is_install=True)


def check_documents(label: str, manifests: dict[str, str]) -> list[str]:
    kinds: list[str] = []
    before = len(failures)
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            continue
        try:
            documents = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as error:
            fail(f"{label}: {path} is not YAML: {error}")
            continue
        for document in documents:
            kind = document.get("kind")
            name = (document.get("metadata") or {}).get("name")
            if not document.get("apiVersion") or not kind or not name:
                fail(f"{label}: {path} lacks apiVersion, kind or metadata.name")
                continue
            kinds.append(kind)
            if kind in CRD_KINDS:
                check_service_monitor(label, document)
                continue
            for version in KUBE_VERSIONS:
                try:
                    kubernetes_validate.validate(document, version, strict=True)
                except kubernetes_validate.ValidationError as error:
                    where = "/".join(str(p) for p in error.path)
                    fail(f"{label}: {kind}/{name} invalid for Kubernetes {version} at {where}: {error.message}")
    if len(failures) == before:
        print(f"ok   helm template ({label}), valid for Kubernetes {' and '.join(KUBE_VERSIONS)}: "
              f"{', '.join(sorted(kinds))}")
    return kinds


def check_service_monitor(label: str, monitor: dict) -> None:
    spec = monitor.get("spec") or {}
    endpoints = spec.get("endpoints") or []
    if monitor.get("apiVersion") != "monitoring.coreos.com/v1":
        fail(f"{label}: ServiceMonitor apiVersion is {monitor.get('apiVersion')}")
    if not (spec.get("selector") or {}).get("matchLabels"):
        fail(f"{label}: ServiceMonitor selects nothing")
    if not endpoints or any(e.get("port") != "http" or e.get("path") != "/metrics" for e in endpoints):
        fail(f"{label}: ServiceMonitor must scrape port http, path /metrics")


def check_values_documented(values_file: Path) -> None:
    """Every leaf key has a comment line right above it, or sits in a block whose key has one."""
    before = len(failures)
    key = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z_][\w.-]*):(?P<rest>.*)$")
    documented_blocks: list[int] = []  # indents of enclosing keys that carry a comment
    previous = ""
    for number, line in enumerate(values_file.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            previous = ""
            continue
        match = key.match(line)
        if match:
            indent = len(match["indent"])
            documented_blocks = [i for i in documented_blocks if i < indent]
            commented = previous.startswith("#")
            rest = match["rest"].split("#", 1)[0].strip()
            is_leaf = rest != ""
            if is_leaf and not commented and not documented_blocks:
                fail(f"{values_file.name}:{number}: value '{match['key']}' has no comment")
            if not is_leaf and commented:
                documented_blocks.append(indent)
        previous = stripped
    if len(failures) == before:
        print(f"ok   every value in {values_file.name} is documented")


def main() -> int:
    chart = Path(sys.argv[1])
    production = yaml.safe_load((chart / "values-production.yaml").read_text())
    for label, values in (("default values", None), ("values-production.yaml", production)):
        lint(chart, label, values)
        try:
            kinds = check_documents(label, render(chart, values))
        except helm.HelmError as error:
            fail(f"helm template ({label}): {error}")
            continue
        if label == "values-production.yaml":
            for kind in ("HorizontalPodAutoscaler", "ServiceMonitor", "PodDisruptionBudget"):
                if kind not in kinds:
                    fail(f"{label}: renders no {kind}")
            if "Secret" in kinds or "PersistentVolumeClaim" in kinds:
                fail(f"{label}: existingSecret and PostgreSQL must render no Secret or PVC")
    before = len(failures)
    for label, (values, word) in MUST_FAIL.items():
        try:
            render(chart, values)
            fail(f"refused settings: {label} rendered")
        except helm.HelmError as error:
            if word not in str(error):
                fail(f"refused settings: {label}: unexpected message {error}")
    if len(failures) == before:
        print(f"ok   {len(MUST_FAIL)} unworkable settings are refused at render time")
    check_values_documented(chart / "values.yaml")
    if failures:
        print(f"{len(failures)} deployment check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
