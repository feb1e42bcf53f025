"""deploy/k8s: rendered by kustomize, valid against the Kubernetes schemas, shaped as designed."""
from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any, Callable

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import MIGRATED, PROCESSES

K8S_VERSION = "1.30.0"  # the oldest Kubernetes the manifests are checked against
BASE = Path("deploy/k8s/base")
OVERLAYS = [Path("deploy/k8s/overlays/dev")]
READINESS_PATHS = {"api-gateway": "/openapi.json"}  # the rest: /health


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def container(obj: dict[str, Any]) -> dict[str, Any]:
    (only,) = obj["spec"]["template"]["spec"]["containers"]
    return only


@pytest.fixture(scope="module")
def base_docs(root: Path) -> list[dict[str, Any]]:
    """The base as kustomize would emit it: the listed resources in the base's namespace."""
    kustomization = yaml.safe_load((root / BASE / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    on_disk = sorted(p.name for p in (root / BASE).glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk, "every manifest in base/ is listed, and only those"
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources"}
    docs = []
    for name in listed:
        for doc in yaml.safe_load_all((root / BASE / name).read_text()):
            if doc["kind"] != "Namespace":
                doc["metadata"]["namespace"] = kustomization["namespace"]
            docs.append(doc)
    return docs


def kustomize(root: Path, kubectl: str, path: Path) -> list[dict[str, Any]]:
    result = subprocess.run([kubectl, "kustomize", str(path)], cwd=root, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def validate_all(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_base_manifests_are_valid_kubernetes_objects(base_docs: list[dict[str, Any]]) -> None:
    validate_all(base_docs)


def test_strict_validation_rejects_a_misspelt_field(base_docs: list[dict[str, Any]]) -> None:
    broken = yaml.safe_load(yaml.safe_dump(of_kind(base_docs, "Deployment")["ticket-relay"]))
    container(broken)["livenessprobe"] = container(broken).pop("livenessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_kustomize_renders_the_base_as_read_here(
        root: Path, require_tool: Callable[[str], str], base_docs: list[dict[str, Any]]) -> None:
    rendered = kustomize(root, require_tool("kubectl"), BASE)
    key = lambda d: (d["kind"], d["metadata"]["name"], d["metadata"].get("namespace"))  # noqa: E731
    assert sorted(map(key, rendered)) == sorted(map(key, base_docs))


@pytest.mark.parametrize("overlay", OVERLAYS, ids=str)
def test_overlays_render_to_valid_objects(
        root: Path, require_tool: Callable[[str], str], overlay: Path) -> None:
    docs = kustomize(root, require_tool("kubectl"), overlay)
    validate_all(docs)
    secrets = {}
    for secret in (d for d in docs if d["kind"] == "Secret"):
        values = {**secret.get("stringData", {}),
                  **{k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()}}
        assert not [k for k, v in values.items() if "CHANGE_ME" in v], "a template value is left"
        secrets[secret["metadata"]["name"]] = values
    for obj in docs:
        for c in obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            refs = [e["valueFrom"]["secretKeyRef"] for e in c.get("env", [])
                    if "secretKeyRef" in e.get("valueFrom", {})]
            for ref in refs:
                assert ref.get("optional") or ref["key"] in secrets[ref["name"]], ref
    assert {d["metadata"]["namespace"] for d in docs if d["kind"] != "Namespace"} == {
        d["metadata"]["name"] for d in docs if d["kind"] == "Namespace"}


def test_every_process_is_a_deployment_with_probes_and_resources(
        base_docs: list[dict[str, Any]]) -> None:
    deployments = of_kind(base_docs, "Deployment")
    assert set(deployments) == set(PROCESSES)
    for name, (service, role) in PROCESSES.items():
        c = container(deployments[name])
        assert c["image"] == f"ticket-triage/{service}:latest" and c["args"] == [role], name
        if role == "web":
            assert c["readinessProbe"]["httpGet"] == {
                "path": READINESS_PATHS.get(name, "/health"), "port": "http"}, name
            assert c["livenessProbe"]["tcpSocket"] == {"port": "http"}, name
        else:   # the metrics port only (METRICS_PORT), announced to Prometheus
            assert c["ports"] == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
            annotations = deployments[name]["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/port"] == "9100", name
            for probe in ("readinessProbe", "livenessProbe"):
                assert c[probe]["exec"]["command"][:2] == ["python", "-c"], name
        for kind in ("requests", "limits"):
            assert set(c["resources"][kind]) == {"cpu", "memory"}, name
        assert c["securityContext"]["readOnlyRootFilesystem"] is True, name
        pod = deployments[name]["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == 10001, name  # the images' USER


def test_web_processes_have_services_and_workers_none(base_docs: list[dict[str, Any]]) -> None:
    deployments, services = of_kind(base_docs, "Deployment"), of_kind(base_docs, "Service")
    assert set(services) == {n for n, (_, role) in PROCESSES.items() if role == "web"}
    for name, svc in services.items():
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        selector = svc["spec"]["selector"]
        assert selector.items() <= labels.items(), name
        matched = [d for d, dep in deployments.items()
                   if selector.items() <= dep["spec"]["template"]["metadata"]["labels"].items()]
        assert matched == [name], f"Service {name} selects {matched}"
        ports = {p["name"]: p["containerPort"] for p in container(deployments[name])["ports"]}
        (port,) = svc["spec"]["ports"]
        assert port["targetPort"] in ports and port["port"] == ports[port["targetPort"]], name


def test_one_migration_job_per_database(base_docs: list[dict[str, Any]]) -> None:
    jobs = of_kind(base_docs, "Job")
    assert set(jobs) == {f"migrate-{s}" for s in MIGRATED}
    for service in MIGRATED:
        job = jobs[f"migrate-{service}"]
        c = container(job)
        assert c["args"] == ["migrate"] and c["image"] == f"ticket-triage/{service}:latest"
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        assert set(c["resources"]["limits"]) == {"cpu", "memory"}


def test_consumers_scale_on_cpu_from_one_to_five(base_docs: list[dict[str, Any]]) -> None:
    deployments = of_kind(base_docs, "Deployment")
    hpas = of_kind(base_docs, "HorizontalPodAutoscaler")
    consumers = {n for n, (_, role) in PROCESSES.items() if role == "consumer"}
    assert set(hpas) == consumers
    for name, hpa in hpas.items():
        spec = hpa["spec"]
        target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert spec["scaleTargetRef"] == target
        assert (spec["minReplicas"], spec["maxReplicas"]) == (1, 5)
        assert [m["resource"]["name"] for m in spec["metrics"]] == ["cpu"]
        assert "replicas" not in deployments[name]["spec"], "the HPA owns the replica count"


def allowed_from_anywhere(policy: dict[str, Any]) -> bool:
    return any("from" not in rule for rule in policy["spec"].get("ingress", []))


def test_network_policies_let_only_the_gateway_in(base_docs: list[dict[str, Any]]) -> None:
    policies = of_kind(base_docs, "NetworkPolicy")
    deny = [p for p in policies.values() if p["spec"]["podSelector"] == {}]
    assert len(deny) == 1 and "ingress" not in deny[0]["spec"]
    assert deny[0]["spec"]["policyTypes"] == ["Ingress"]
    open_to_all = [p["spec"]["podSelector"] for p in policies.values() if allowed_from_anywhere(p)]
    assert open_to_all == [{"matchLabels": {"app.kubernetes.io/name": "api-gateway",
                                            "app.kubernetes.io/component": "web"}}]
    gateway = {"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "api-gateway", "app.kubernetes.io/component": "web"}}}
    # The one other caller: integration-service's worker, into ticket-service's batch upsert.
    worker = {"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "integration-service", "app.kubernetes.io/component": "worker"}}}
    monitoring = {"namespaceSelector": {"matchLabels": {
        "kubernetes.io/metadata.name": "monitoring"}}}
    for name, policy in policies.items():
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if peer == monitoring:      # the scraper: only the metrics and web ports
                    assert name == "metrics-from-monitoring"
                    assert {p["port"] for p in rule["ports"]} == {"http", "metrics"}
                    continue
                assert peer == gateway or (name == "ticket-service-from-integration-worker"
                                           and peer == worker), (name, peer)


def test_env_comes_from_the_config_map_and_the_secret_template(
        base_docs: list[dict[str, Any]], setting_defaults: dict[str, Any]) -> None:
    (config,) = of_kind(base_docs, "ConfigMap").values()
    (secret,) = of_kind(base_docs, "Secret").values()
    unknown = (set(config["data"]) | set(secret["stringData"])) - set(setting_defaults)
    assert unknown == set(), "keys no process reads"
    for key, value in secret["stringData"].items():
        assert value == "" or "CHANGE_ME" in value, f"{key} looks like a real secret"
    workloads = [*of_kind(base_docs, "Deployment").values(), *of_kind(base_docs, "Job").values()]
    for obj in workloads:
        c = container(obj)
        assert c["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
        for var in c["env"]:
            ref = var["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"] and ref["key"] == var["name"]
            assert var["name"] in secret["stringData"], var["name"]
