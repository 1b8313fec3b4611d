"""The Kubernetes manifests in deploy/: valid against the API schemas (offline, with the schemas that
kubernetes-validate bundles) and consistent with each other, with the production-stack values and
with what ``potcot serve`` accepts. No cluster and no server is needed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from potcot.server.web.metrics import Metrics
from potcot.server.web.middleware import OPEN_PATHS

# The Kubernetes release the manifests are written for (autoscaling/v2, policy/v1, the preStop
# `sleep` action); kubernetes-validate bundles its schemas.
KUBERNETES_VERSION = "1.32.0"

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
VALUES = ROOT / "deploy" / "production-stack" / "values.yaml"

POTCOT_DEPLOYMENT = "potcot"
ROUTER_DEPLOYMENT = "vllm-router"

Manifest = dict[str, Any]


def _documents(path: Path) -> Iterator[Manifest]:
    for document in yaml.safe_load_all(path.read_text()):
        if document:
            yield document


def _manifest_files() -> list[Path]:
    return sorted(path for path in MANIFESTS.glob("*.yaml") if path.name != "kustomization.yaml")


ALL = [(path.name, document) for path in _manifest_files() for document in _documents(path)]


def _named(kind: str, name: str) -> Manifest:
    matches = [doc for _, doc in ALL if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} named {name!r}, found {len(matches)}"
    return matches[0]


def _of_kind(kind: str) -> list[Manifest]:
    return [doc for _, doc in ALL if doc["kind"] == kind]


def _container(deployment: Manifest) -> Manifest:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _option(args: list[str], flag: str) -> str:
    """The value after ``flag`` (``--flag VALUE`` or ``--flag=VALUE``); exactly one occurrence."""
    values = [args[i + 1] for i, arg in enumerate(args) if arg == flag]
    values += [arg.split("=", 1)[1] for arg in args if arg.startswith(flag + "=")]
    assert len(values) == 1, f"{flag} given {len(values)} times in {args}"
    return values[0]


def _values_after(args: list[str], flag: str) -> list[str]:
    """The values of a many-valued flag (``--selector a=b c=d``): up to the next ``--flag``."""
    start = args.index(flag) + 1
    end = next((i for i in range(start, len(args)) if args[i].startswith("--")), len(args))
    return args[start:end]


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def _pod_labels(deployment: Manifest) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def _container_port(container: Manifest, port: int | str) -> int:
    """A probe's or Service's target port, by number or by the container port's name."""
    if isinstance(port, int):
        assert port in [p["containerPort"] for p in container["ports"]], f"port {port} is not a container port"
        return port
    return next(p["containerPort"] for p in container["ports"] if p["name"] == port)


def _service_target(service: Manifest, port: int) -> int | str:
    matches = [p for p in service["spec"]["ports"] if p["port"] == port]
    assert matches, f"Service {service['metadata']['name']} has no port {port}"
    return matches[0].get("targetPort", port)


def _flags_in_help(command: list[str]) -> set[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    return set(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", result.stdout))


def _potcot_command() -> list[str]:
    """The ``potcot`` console script the image's entry point runs, or the same CLI through this
    interpreter where the script is not beside it."""
    script = Path(sys.executable).with_name("potcot")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from potcot.cli import main; main()"]


def _flags_in_args(args: list[str]) -> list[str]:
    return [arg.split("=", 1)[0] for arg in args if arg.startswith("--")]


@pytest.fixture(scope="module")
def values() -> Manifest:
    return yaml.safe_load(VALUES.read_text())


@pytest.fixture(scope="module")
def potcot() -> Manifest:
    return _named("Deployment", POTCOT_DEPLOYMENT)


@pytest.fixture(scope="module")
def router() -> Manifest:
    return _named("Deployment", ROUTER_DEPLOYMENT)


# --- schemas ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document", [doc for _, doc in ALL], ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in ALL]
)
def test_manifest_validates_against_the_kubernetes_schema(document: Manifest) -> None:
    # strict: the schemas that refuse unknown fields, so a misspelt key fails here, not in the cluster
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_validator_refuses_a_misspelt_field(potcot: Manifest) -> None:
    broken = yaml.safe_load(yaml.safe_dump(potcot))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["failureTreshold"] = 3
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == [path.name for path in _manifest_files()]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kustomization_builds() -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS)], capture_output=True, text=True, timeout=60, check=True
    )
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    namespace = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())["namespace"]
    assert len(built) == len(ALL)
    for doc in built:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace
    binding = next(doc for doc in built if doc["kind"] == "RoleBinding")
    assert all(subject["namespace"] == namespace for subject in binding["subjects"])


# --- potcot ----------------------------------------------------------------------------------------


def test_upstream_is_the_router_service(potcot: Manifest, router: Manifest) -> None:
    upstream = urlsplit(_option(_container(potcot)["args"], "--upstream"))
    assert upstream.scheme == "http"
    assert upstream.hostname is not None
    host = upstream.hostname.split(".")[0]  # vllm-router, vllm-router.potcot, vllm-router.potcot.svc...
    port = upstream.port or 80
    service = _named("Service", host)
    assert _selects(service["spec"]["selector"], _pod_labels(router)), "the Service does not select the router"
    target = _service_target(service, port)
    router_container = _container(router)
    assert _container_port(router_container, target) == int(_option(router_container["args"], "--port"))


def test_potcot_flags_are_flags_potcot_serve_accepts(potcot: Manifest) -> None:
    container = _container(potcot)
    # The image's entry point is `potcot serve`: the manifest gives only its arguments.
    assert "command" not in container
    accepted = _flags_in_help([*_potcot_command(), "serve", "--help"])
    assert "--upstream" in accepted, "potcot serve --help did not list its flags"
    unknown = [flag for flag in _flags_in_args(container["args"]) if flag not in accepted]
    assert not unknown, f"potcot serve does not accept {unknown}"
    # Each POTCOT_* variable is a setting's (POTCOT_SANDBOX_WORKERS is --sandbox-workers).
    for variable in container.get("env", []):
        if variable["name"].startswith("POTCOT_"):
            flag = "--" + variable["name"].removeprefix("POTCOT_").lower().replace("_", "-")
            assert flag in accepted, f"{variable['name']} names no setting of potcot serve"
    assert _option(container["args"], "--engine") == "openai"


def test_probes_hit_health_on_the_serving_port(potcot: Manifest) -> None:
    container = _container(potcot)
    serving_port = int(_option(container["args"], "--port"))
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container[kind]["httpGet"]
        assert _container_port(container, probe["port"]) == serving_port, kind
        # the kubelet sends no API key: a probe of a guarded path would get 401 forever
        assert probe["path"] in OPEN_PATHS, kind
    # traffic follows /health (the sandbox is up, the model is listed, the upstream is healthy)
    assert container["startupProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    # liveness must not follow the upstream's health, or one unhealthy vLLM replica behind the router
    # restarts every potcot replica
    assert container["livenessProbe"]["httpGet"]["path"] != "/health"


def test_potcot_probes_the_router_where_it_says_it_can_serve(potcot: Manifest, router: Manifest) -> None:
    """vllm-router's /health is 503 while any one replica is down; its /readiness, which its own
    probe uses, is 200 while one can serve."""
    assert _option(_container(potcot)["args"], "--upstream-health-path") == "/readiness"
    assert _container(router)["readinessProbe"]["httpGet"]["path"] == "/readiness"


def test_service_reaches_the_serving_port(potcot: Manifest) -> None:
    service = _named("Service", POTCOT_DEPLOYMENT)
    assert _selects(service["spec"]["selector"], _pod_labels(potcot))
    container = _container(potcot)
    for port in service["spec"]["ports"]:
        assert _container_port(container, port["targetPort"]) == int(_option(container["args"], "--port"))


def test_deployment_selects_its_own_pods(potcot: Manifest, router: Manifest) -> None:
    for deployment in (potcot, router):
        assert _selects(deployment["spec"]["selector"]["matchLabels"], _pod_labels(deployment))


def test_hpa_scales_the_potcot_deployment_on_cpu_and_requests_in_flight(potcot: Manifest) -> None:
    (hpa,) = _of_kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": potcot["metadata"]["name"]}
    # The HPA owns the replica count; one in the Deployment would be reset by every apply.
    assert "replicas" not in potcot["spec"]
    metrics = hpa["spec"]["metrics"]
    assert any(m["type"] == "Resource" and m["resource"]["name"] == "cpu" for m in metrics)
    pods_metrics = [m["pods"]["metric"]["name"] for m in metrics if m["type"] == "Pods"]
    assert "potcot_requests_in_flight" in pods_metrics
    # Every Pods metric is a gauge that potcot's /metrics exports.
    gauges = {family.name for family in Metrics().registry.collect() if family.type == "gauge"}
    assert set(pods_metrics) <= gauges
    # CPU utilisation is measured against requests: the container must have some.
    assert _container(potcot)["resources"]["requests"]["cpu"]


def test_pod_disruption_budgets_select_their_pods(potcot: Manifest, router: Manifest) -> None:
    budgets = _of_kind("PodDisruptionBudget")
    for deployment in (potcot, router):
        matching = [b for b in budgets if _selects(b["spec"]["selector"]["matchLabels"], _pod_labels(deployment))]
        assert len(matching) == 1, deployment["metadata"]["name"]


def test_sandbox_workers_follow_the_cpu_limit(potcot: Manifest) -> None:
    container = _container(potcot)
    (workers,) = [v for v in container["env"] if v["name"] == "POTCOT_SANDBOX_WORKERS"]
    field = workers["valueFrom"]["resourceFieldRef"]
    assert (field["containerName"], field["resource"]) == (container["name"], "limits.cpu")
    assert "cpu" in container["resources"]["limits"]


def test_api_key_comes_from_a_secret(potcot: Manifest) -> None:
    container = _container(potcot)
    assert "--api-key" not in container["args"]
    (key,) = [v for v in container["env"] if v["name"] == "POTCOT_API_KEY"]
    reference = key["valueFrom"]["secretKeyRef"]
    assert reference["name"] and reference["key"]
    assert reference.get("optional", False) is False  # no key, no pod: never serve unauthenticated


def test_termination_grace_covers_draining(potcot: Manifest) -> None:
    container = _container(potcot)
    drain = float(_option(container["args"], "--graceful-shutdown-s"))
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert potcot["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > drain + pre_stop


def test_potcot_pods_are_confined(potcot: Manifest) -> None:
    pod = potcot["spec"]["template"]["spec"]
    container = _container(potcot)
    context = container["securityContext"]
    assert context["capabilities"]["drop"] == ["ALL"]
    assert not context["capabilities"].get("add")
    assert context["allowPrivilegeEscalation"] is False
    assert not context.get("privileged")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] in ("RuntimeDefault", "Localhost")
    assert pod["automountServiceAccountToken"] is False
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")


def test_network_policy_lets_potcot_reach_the_router_and_nothing_else(potcot: Manifest, router: Manifest) -> None:
    (policy,) = [
        p for p in _of_kind("NetworkPolicy") if _selects(p["spec"]["podSelector"]["matchLabels"], _pod_labels(potcot))
    ]
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    router_port = int(_option(_container(router)["args"], "--port"))
    to_router = [
        rule
        for rule in policy["spec"]["egress"]
        if any(
            "podSelector" in peer and _selects(peer["podSelector"]["matchLabels"], _pod_labels(router))
            for peer in rule["to"]
        )
    ]
    assert to_router and all(port["port"] == router_port for rule in to_router for port in rule["ports"])
    for rule in policy["spec"]["egress"]:
        assert rule.get("to"), "an egress rule without `to` opens every destination"


# --- vllm-router and the production-stack values ------------------------------------------------


def test_router_discovers_the_charts_vllm_pods(router: Manifest, values: Manifest) -> None:
    args = _container(router)["args"]
    assert "--service-discovery" in args
    selector = dict(item.split("=", 1) for item in _values_after(args, "--selector"))
    assert selector, "an empty selector would route to every pod in the namespace"
    engine = values["servingEngineSpec"]
    assert _selects(selector, engine["labels"]), "the chart's engine pods do not carry the router's selector"
    assert int(_option(args, "--service-discovery-port")) == engine["containerPort"]


def test_router_selector_matches_no_pod_of_this_kustomization(router: Manifest) -> None:
    args = _container(router)["args"]
    selector = dict(item.split("=", 1) for item in _values_after(args, "--selector"))
    for deployment in _of_kind("Deployment"):
        assert not _selects(selector, _pod_labels(deployment)), deployment["metadata"]["name"]


def test_router_watches_its_own_namespace_with_a_role(router: Manifest) -> None:
    container = _container(router)
    namespace = _option(container["args"], "--service-discovery-namespace")
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    if namespace.startswith("$("):
        (variable,) = [v for v in container["env"] if f"$({v['name']})" == namespace]
        assert variable["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    else:
        assert namespace == kustomization["namespace"]
    account = router["spec"]["template"]["spec"]["serviceAccountName"]
    _named("ServiceAccount", account)
    bindings = [
        b
        for b in _of_kind("RoleBinding")
        if any(s["kind"] == "ServiceAccount" and s["name"] == account for s in b["subjects"])
    ]
    assert bindings
    granted: set[str] = set()
    for binding in bindings:
        assert binding["roleRef"]["kind"] == "Role"
        role = _named("Role", binding["roleRef"]["name"])
        for rule in role["rules"]:
            if "" in rule["apiGroups"] and "pods" in rule["resources"]:
                granted |= set(rule["verbs"])
    assert {"get", "list", "watch"} <= granted
    assert router["spec"]["template"]["spec"].get("automountServiceAccountToken", True) is True


def test_router_routes_by_prefix_cache_and_keeps_a_client_on_one_router(router: Manifest, values: Manifest) -> None:
    assert _option(_container(router)["args"], "--policy") == "cache_aware"
    for spec in values["servingEngineSpec"]["modelSpec"]:
        if spec.get("enabled", True):
            # without it the chart passes --no-enable-prefix-caching and cache-aware routing buys nothing
            assert spec["vllmConfig"]["enablePrefixCaching"] is True, spec["name"]
    if router["spec"].get("replicas", 1) > 1:
        # each router replica has its own prefix tree: one client, one router
        service = next(s for s in _of_kind("Service") if _selects(s["spec"]["selector"], _pod_labels(router)))
        assert service["spec"]["sessionAffinity"] == "ClientIP"


@pytest.mark.skipif(
    not Path(sys.executable).with_name("vllm-router").exists(), reason="the vllm-router package is not installed"
)
def test_router_flags_are_flags_vllm_router_accepts(router: Manifest) -> None:
    container = _container(router)
    assert container["command"] == ["vllm-router"]
    accepted = _flags_in_help([str(Path(sys.executable).with_name("vllm-router")), "--help"])
    unknown = [flag for flag in _flags_in_args(container["args"]) if flag not in accepted]
    assert not unknown, f"vllm-router does not accept {unknown}"


def test_values_leave_the_charts_router_off_and_serve_the_model_potcot_asks_for(
    potcot: Manifest, values: Manifest
) -> None:
    # The chart's router is production-stack's Python router; this fleet's is vllm-router.
    assert values["routerSpec"]["enableRouter"] is False
    served = [spec["modelURL"] for spec in values["servingEngineSpec"]["modelSpec"] if spec.get("enabled", True)]
    assert _option(_container(potcot)["args"], "--model") in served


def test_values_give_what_the_chart_requires_and_the_dockerfiles_vllm(values: Manifest) -> None:
    base = re.search(r"^FROM\s+(vllm/vllm-openai:\S+)", (ROOT / "Dockerfile").read_text(), flags=re.MULTILINE)
    assert base, "the Dockerfile no longer builds on vllm/vllm-openai"
    for spec in values["servingEngineSpec"]["modelSpec"]:
        # the chart's deployment template fails with `required` when one of these is missing
        for key in ("name", "repository", "tag", "modelURL", "requestCPU", "requestMemory"):
            assert spec.get(key), f"modelSpec {spec.get('name')!r} lacks {key}"
        # potcot's image and the vLLM servers run one vLLM release
        assert f"{spec['repository']}:{spec['tag']}" == base.group(1)


def test_router_probes_use_its_readiness_and_liveness_endpoints(router: Manifest) -> None:
    container = _container(router)
    # vllm-router's /health is 503 while any one worker is unhealthy: probing it would take every
    # router out of the Service (readiness) or restart them (liveness) for one bad vLLM replica.
    assert container["readinessProbe"]["httpGet"]["path"] == "/readiness"
    assert container["livenessProbe"]["httpGet"]["path"] == "/liveness"
    for kind in ("readinessProbe", "livenessProbe"):
        port = container[kind]["httpGet"]["port"]
        assert _container_port(container, port) == int(_option(container["args"], "--port")), kind
