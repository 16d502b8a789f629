#!/usr/bin/env python3
"""Writes the Kubernetes base (deploy/k8s/base/) and every service's Dockerfile from one table.

    uv run --frozen python deploy/k8s/render.py           write them (`make manifests`)
    uv run --frozen python deploy/k8s/render.py --check   exit 1, naming the files, when one differs

What it is written from:
  - SERVICES below: name, package, port, settings prefix, what goes into the ConfigMap and what comes
    from the Secret. Every ConfigMap key is the prefix plus a field of the service's settings class
    (refused here when the class has no such field); broker, database and cache come from the Secret
    through the shared TELESALES_ prefix (runtime/telesales_runtime/settings.py); a service with a web app
    (WebApp) gets a Node stage in its Dockerfile that builds it;
  - contracts/telesales_contracts/topics.py: one Strimzi KafkaTopic per topic of ALL_TOPICS, with the
    partitions and retention of TOPIC_POLICY below.

The overlays (deploy/k8s/overlays/) are written by hand. tests/test_deploy_k8s.py fails when a written
file differs from what this script renders, and validates the rendered overlays.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from telesales_contracts.topics import ALL_TOPICS, DEAD_LETTERS, LEADS_OUTCOME, LEADS_RECEIVED, broker_config
from telesales_runtime.settings import SHARED_ENV_PREFIX, ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "deploy" / "k8s"
BASE_DIR = K8S_DIR / "base"

NAMESPACE = "telesales"
PART_OF = "telesales"
NAME_LABEL = "app.kubernetes.io/name"
STRIMZI_CLUSTER = "telesales"  # the Strimzi `Kafka` resource the topics belong to (label strimzi.io/cluster)

# The numeric user the images run as (USER in the Dockerfiles) and the pods run as (securityContext).
APP_UID = 10001
PYTHON_IMAGE = "python:3.11.14-slim-bookworm"  # bookworm-slim still has tzdata (the zoned services need it)
NODE_IMAGE = "node:20.20.2-bookworm-slim"  # builds web apps only (the Node the lockfiles are made with)
UV_VERSION = "0.13.9"

# The one Secret every service reads its connection strings from: settings field -> key in the Secret.
SECRET_NAME = "telesales-connections"
SECRET_KEYS: dict[str, str] = {
    "kafka_bootstrap": "kafka-bootstrap",
    "mongo_uri": "mongo-uri",
    "redis_url": "redis-url",
}
# Kafka security (README "Kafka security"): optional keys of the same Secret, read by every service (a key
# left out keeps the setting's default: PLAINTEXT, no credentials). The TLS files come from the optional
# Secret KAFKA_TLS_SECRET (keys ca.crt, tls.crt, tls.key) mounted at KAFKA_TLS_DIR; the kafka-ssl-*-file
# keys name the files there, e.g. /etc/telesales/kafka-tls/ca.crt.
KAFKA_SECURITY_KEYS: dict[str, str] = {
    "kafka_security_protocol": "kafka-security-protocol",
    "kafka_sasl_mechanism": "kafka-sasl-mechanism",
    "kafka_sasl_username": "kafka-sasl-username",
    "kafka_sasl_password": "kafka-sasl-password",
    "kafka_ssl_ca_file": "kafka-ssl-ca-file",
    "kafka_ssl_cert_file": "kafka-ssl-cert-file",
    "kafka_ssl_key_file": "kafka-ssl-key-file",
    "kafka_ssl_key_password": "kafka-ssl-key-password",
}
KAFKA_TLS_SECRET = "telesales-kafka-tls"
KAFKA_TLS_DIR = "/etc/telesales/kafka-tls"
# Encryption at rest of personal data (README "Personal data", deploy/k8s/README.md "Personal data keys"): the
# keyring JSON under key keyring.json of this Secret, mounted into the services that store phone numbers,
# names and emails; they refuse to start without it (not optional).
PII_SECRET = "telesales-pii-keys"
PII_DIR = "/etc/telesales/pii-keys"
PII_ENV = {f"{SHARED_ENV_PREFIX}PII_KEYRING_FILE": f"{PII_DIR}/keyring.json"}

# The container's HTTP endpoints (runtime/telesales_runtime/http.py: health_router).
LIVENESS_PATH = "/healthz"  # the process answers
READINESS_PATH = "/readyz"  # MongoDB and Kafka (and the allocator's Redis) answer
METRICS_PATH = "/metrics"

COMMON_CONFIG: dict[str, str] = {
    "log_level": "INFO",
    "log_json": "true",
    # Topics are declared by the KafkaTopic resources (kafka-topics.yaml), not created by the services.
    "kafka_create_topics": "false",
}
ZONED_CONFIG: dict[str, str] = {**COMMON_CONFIG, "timezone": "Asia/Shanghai"}


@dataclass(frozen=True)
class WebApp:
    """A web app in services/<name>/<folder>/ (package.json, package-lock.json): `npm ci`, then `npm run build`
    writes <output>/, which the image holds at WEB_DIR and the setting named points the service at."""

    folder: str
    setting: str
    output: str = "dist"


@dataclass(frozen=True)
class Service:
    name: str
    package: str
    port: int
    env_prefix: str
    config: Mapping[str, str]
    secrets: tuple[str, ...] = ("kafka_bootstrap", "mongo_uri")
    # Data the image makes when it is built: `python -m <module> <folder>` writes it, and the setting named
    # (a folder) points the service at it (the running container's file system is read-only).
    built_data: tuple[str, str] | None = None
    # A web app the service serves, built with npm in a stage of its own: see WebApp.
    web: WebApp | None = None
    # How long a stopping pod may take: consumers leave their groups, relays flush, requests finish.
    grace_seconds: int = 45
    # Optional keys of the Secret SECRET_NAME this service alone reads, under its own prefix: setting -> key
    # (a key left out keeps the setting's default).
    own_secrets: Mapping[str, str] = field(default_factory=dict)
    # Stores personal data: mounts the keyring Secret PII_SECRET (see PII_ENV).
    personal_data: bool = False

    @property
    def image(self) -> str:
        return f"telesales/{self.name}"

    @property
    def factory(self) -> str:
        return f"{self.package}.main:create_app_from_env"

    @property
    def config_map(self) -> str:
        return f"{self.name}-config"

    @property
    def url(self) -> str:
        """The service's address inside the cluster (and in docker-compose.yml)."""
        return f"http://{self.name}:{self.port}"

    @property
    def source_dir(self) -> Path:
        return REPO_ROOT / "services" / self.name

    def env_name(self, setting: str) -> str:
        return f"{self.env_prefix}{setting.upper()}"

    def config_env(self) -> dict[str, str]:
        return {self.env_name(key): value for key, value in self.config.items()}

    def image_env(self) -> set[str]:
        """The variables the Dockerfile sets for the service (where its built data and web app are)."""
        settings = [self.built_data[1]] if self.built_data else []
        if self.web:
            settings.append(self.web.setting)
        return {self.env_name(setting) for setting in settings}


LEDGER = Service("ledger", "ledger", 8103, "LEDGER_", ZONED_CONFIG)
METRICS = Service("metrics", "metrics", 8105, "METRICS_", ZONED_CONFIG)
# The platform's services behind the console (it calls each with the signed-in user's token).
BACKENDS: tuple[Service, ...] = (
    # who saw which number: how long the access log keeps a record, how many full numbers a user may see an
    # hour (telesales_runtime.access_log; README, Personal data)
    Service("lead-intake", "lead_intake", 8101, "LEAD_INTAKE_", {**COMMON_CONFIG, "access_log_retention_days": "365"},
            built_data=("lead_intake.phone_regions", "phone_regions_dir"), personal_data=True),
    Service("allocator", "allocator", 8102, "ALLOCATOR_",
            {**ZONED_CONFIG, "access_log_retention_days": "365", "unmask_budget_per_hour": "200"},
            secrets=("kafka_bootstrap", "mongo_uri", "redis_url"), personal_data=True,
            # calls without the number: the HTTP number-privacy provider's address and credentials
            own_secrets={"privacy_http_url": "allocator-privacy-http-url",
                         "privacy_http_token": "allocator-privacy-http-token"}),
    LEDGER,
    # the struggle push (on request and its rolling window's job) reads agents' funnels from metrics
    Service("marketplace", "marketplace", 8104, "MARKETPLACE_",
            {**ZONED_CONFIG, "ledger_url": LEDGER.url, "metrics_url": METRICS.url}),
    METRICS,
)
CONSOLE = Service(
    "console", "console", 8106, "CONSOLE_",
    {**COMMON_CONFIG, **{f"{backend.package}_url": backend.url for backend in BACKENDS},
     # Where browsers reach the console (origin check, OIDC redirect URI): each overlay sets its own.
     "public_url": "https://console.invalid"},
    secrets=("kafka_bootstrap", "mongo_uri", "redis_url"),
    web=WebApp("web", "web_dist"),
    # Its live streams end at SIGTERM (the browsers reconnect to another pod); proxied media uploads and
    # downloads and the consumers' leaving get the rest.
    grace_seconds=60,
)
SERVICES: tuple[Service, ...] = (*BACKENDS, CONSOLE)
BY_NAME: dict[str, Service] = {service.name: service for service in SERVICES}


@dataclass(frozen=True)
class TopicPolicy:
    partitions: int


DEFAULT_TOPIC_POLICY = TopicPolicy(partitions=12)
# Partitions bound how many consumers of one group work at once: at least the prod overlay's most
# replicas of every consuming service (times the lead-intake's consumers per process for raw leads).
# How long each topic keeps its events is the contract's (telesales_contracts/retention.py): it says which
# topics carry personal data, and keeps those only as long as their purpose needs.
TOPIC_POLICY: dict[str, TopicPolicy] = {
    LEADS_RECEIVED.name: TopicPolicy(partitions=24),
    LEADS_OUTCOME.name: TopicPolicy(partitions=12),
    DEAD_LETTERS.name: TopicPolicy(partitions=6),
}
TOPIC_REPLICAS = 3
TOPIC_CONFIG: dict[str, int | str] = {"cleanup.policy": "delete", "min.insync.replicas": 2}


def topic_policy(name: str) -> TopicPolicy:
    return TOPIC_POLICY.get(name, DEFAULT_TOPIC_POLICY)


def topic_config(name: str) -> dict[str, int | str]:
    """The KafkaTopic's config: the platform's defaults, then the contract's (compaction, retention.ms and
    max.compaction.lag.ms as numbers: Strimzi passes them on as the broker expects)."""
    contract: dict[str, int | str] = {key: int(value) if key.endswith(".ms") else value
                                      for key, value in broker_config(name).items()}
    return {**TOPIC_CONFIG, **contract}


# ----------------------------------------------------------------------------- settings
def settings_class(service: Service) -> type[ServiceSettings] | None:
    """The ServiceSettings subclass defined in `<package>.settings`; None while the package is not
    installed in this environment (a service being written)."""
    if importlib.util.find_spec(service.package) is None:
        return None
    module = importlib.import_module(f"{service.package}.settings")
    found = [value for value in vars(module).values()
             if isinstance(value, type) and issubclass(value, ServiceSettings) and value.__module__ == module.__name__]
    if len(found) != 1:
        raise LookupError(f"{module.__name__} defines {len(found)} ServiceSettings classes, expected one")
    return found[0]


def settings_env_names(service: Service, cls: type[ServiceSettings]) -> set[str]:
    """Every environment variable the service reads: its prefix plus a field, or the shared prefix plus a
    field (except mongo_db, which is each service's own and never shared)."""
    prefix = cls.model_config.get("env_prefix", "")
    if prefix != service.env_prefix:
        raise ValueError(f"{cls.__name__} reads {prefix!r}, the table says {service.env_prefix!r}")
    fields = cls.model_fields
    return {f"{prefix}{name.upper()}" for name in fields} | {
        f"{SHARED_ENV_PREFIX}{name.upper()}" for name in fields if name != "mongo_db"}


def check_settings(service: Service) -> None:
    cls = settings_class(service)
    if cls is None:
        return
    known = settings_env_names(service, cls)
    wrong = sorted({*service.config_env(), *secret_env(service), *service.image_env(), *PII_ENV} - known)
    if wrong:
        raise ValueError(f"{service.name}: {', '.join(wrong)} are not settings of {cls.__name__}")


def secret_env(service: Service) -> dict[str, str]:
    """Environment variable -> key of the Secret (the connection strings, then the optional Kafka security)."""
    return {**{f"{SHARED_ENV_PREFIX}{setting.upper()}": SECRET_KEYS[setting] for setting in service.secrets},
            **{f"{SHARED_ENV_PREFIX}{setting.upper()}": key for setting, key in KAFKA_SECURITY_KEYS.items()},
            **{service.env_name(setting): key for setting, key in service.own_secrets.items()}}


# ----------------------------------------------------------------------------- kubernetes
def labels(service: Service) -> dict[str, str]:
    return {NAME_LABEL: service.name, "app.kubernetes.io/component": "service"}


def selector(service: Service) -> dict[str, str]:
    return {NAME_LABEL: service.name}


def http_probe(path: str, *, period: int, timeout: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "timeoutSeconds": timeout,
            "failureThreshold": failures}


def pod_volumes(service: Service) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The container's mounts and the pod's volumes: /tmp, the Kafka TLS files, the personal data keyring."""
    mounts = [{"name": "tmp", "mountPath": "/tmp"}, {"name": "kafka-tls", "mountPath": KAFKA_TLS_DIR, "readOnly": True}]
    volumes: list[dict[str, Any]] = [
        {"name": "tmp", "emptyDir": {"sizeLimit": "512Mi"}},
        # Kafka TLS files when the broker needs them; an empty directory otherwise.
        {"name": "kafka-tls", "secret": {"secretName": KAFKA_TLS_SECRET, "optional": True, "defaultMode": 0o440}}]
    if service.personal_data:
        mounts.append({"name": "pii-keys", "mountPath": PII_DIR, "readOnly": True})
        volumes.append({"name": "pii-keys", "secret": {"secretName": PII_SECRET, "defaultMode": 0o440}})
    return mounts, volumes


def deployment(service: Service) -> dict[str, Any]:
    optional = {*KAFKA_SECURITY_KEYS.values(), *service.own_secrets.values()}
    env = [{"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET_NAME, "key": key,
                                                          **({"optional": True} if key in optional else {})}}}
           for name, key in secret_env(service).items()]
    if service.personal_data:
        env += [{"name": name, "value": value} for name, value in PII_ENV.items()]
    mounts, volumes = pod_volumes(service)
    container = {
        "name": service.name,
        "image": service.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": service.port, "protocol": "TCP"}],
        "envFrom": [{"configMapRef": {"name": service.config_map}}],
        "env": env,
        # Up to 5 minutes to start: the lifespan connects to Kafka and MongoDB and joins consumer
        # groups before uvicorn answers at all. Liveness only once started, readiness from then on.
        "startupProbe": http_probe(LIVENESS_PATH, period=5, timeout=3, failures=60),
        "livenessProbe": http_probe(LIVENESS_PATH, period=10, timeout=3, failures=3),
        # /readyz checks each dependency with a 2 s timeout, one after the other.
        "readinessProbe": http_probe(READINESS_PATH, period=10, timeout=8, failures=3),
        # Leave the Service's endpoints before uvicorn stops taking requests.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        # Uploads (lead imports, tip media) are spooled to /tmp: the only writable place.
        "volumeMounts": mounts,
    }
    pod = {
        "metadata": {"labels": labels(service)},
        "spec": {
            "automountServiceAccountToken": False,
            # No <SERVICE>_PORT=tcp://... variables: the services read their own prefix from the environment.
            "enableServiceLinks": False,
            "terminationGracePeriodSeconds": service.grace_seconds,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": APP_UID,
                "runAsGroup": APP_UID,
                "fsGroup": APP_UID,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "topologySpreadConstraints": [{
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector(service)},
            }],
            "containers": [container],
            "volumes": volumes,
        },
    }
    # No `replicas`: the HorizontalPodAutoscaler owns it (an apply would reset it otherwise).
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service.name, "labels": labels(service)},
        "spec": {
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": selector(service)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": pod,
        },
    }


def k8s_service(service: Service) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service.name, "labels": labels(service)},
        "spec": {
            "type": "ClusterIP",
            "selector": selector(service),
            "ports": [{"name": "http", "port": service.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def autoscaler(service: Service) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": service.name, "labels": labels(service)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service.name},
            "minReplicas": 2,
            "maxReplicas": 4,
            "metrics": [{"type": "Resource",
                         "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}],
            # Every change of replicas rebalances the consumer groups: scale down slowly.
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 300,
                                       "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]}},
        },
    }


def disruption_budget(service: Service) -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": service.name, "labels": labels(service)},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(service)}},
    }


def service_monitor(service: Service) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": service.name, "labels": labels(service)},
        "spec": {
            "selector": {"matchLabels": selector(service)},
            "endpoints": [{"port": "http", "path": METRICS_PATH, "interval": "30s", "scrapeTimeout": "10s"}],
        },
    }


def kafka_topic(name: str) -> dict[str, Any]:
    policy = topic_policy(name)
    return {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaTopic",
        "metadata": {"name": name, "labels": {"strimzi.io/cluster": STRIMZI_CLUSTER}},
        "spec": {
            "partitions": policy.partitions,
            "replicas": TOPIC_REPLICAS,
            "config": topic_config(name),
        },
    }


def namespace() -> dict[str, Any]:
    # Every pod here passes the `restricted` Pod Security Standard; the namespace enforces it.
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}},
    }


def kustomization() -> dict[str, Any]:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": NAMESPACE,
        "labels": [{"pairs": {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "kustomize"},
                    "includeTemplates": True}],
        "resources": ["namespace.yaml", "kafka-topics.yaml", *(f"{s.name}.yaml" for s in SERVICES)],
        "configMapGenerator": [
            {"name": s.config_map, "literals": [f"{key}={value}" for key, value in s.config_env().items()],
             "options": {"labels": selector(s)}}
            for s in SERVICES
        ],
    }


# ----------------------------------------------------------------------------- docker
DOCKERFILE = """\
# syntax=docker/dockerfile:1
# Generated by `make manifests` (deploy/k8s/render.py): change the template there, not this file.
# The image of {name}. Build it from the repository root, the context being the whole workspace:
#   docker build -f services/{name}/Dockerfile -t telesales/{name}:dev .

# Builder: the locked dependencies of {name}, then the three workspace packages it is made of
# (contracts, runtime, {name}), installed, not editable, into /opt/venv.
FROM {python_image} AS builder
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/opt/venv
RUN pip install --no-cache-dir uv=={uv_version}
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY contracts/pyproject.toml contracts/
COPY runtime/pyproject.toml runtime/
COPY services/{name}/pyproject.toml services/{name}/
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-install-workspace --package {name}
COPY contracts/telesales_contracts contracts/telesales_contracts
COPY runtime/telesales_runtime runtime/telesales_runtime
COPY services/{name}/{package} services/{name}/{package}
RUN --mount=type=cache,target=/root/.cache/uv uv sync --frozen --no-dev --no-editable --package {name}
{build_data}{web_stage}
# Runtime: the same Python, the virtual environment and nothing else (no uv, no compiler, no sources).
FROM {python_image}
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/tmp
COPY --from=builder /opt/venv /opt/venv
{copy_data}USER {uid}:{uid}
EXPOSE {port}
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \\
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{liveness}', timeout=2)"]
CMD ["uvicorn", "--factory", "{factory}", "--host", "0.0.0.0", "--port", "{port}"]
"""


WEB_STAGE = """
# Web: the web app, from its lockfile (dependencies first: a layer that changes only with the lockfile),
# then its sources; the build generates the API types from {folder}/openapi/*.json and writes {output}/.
FROM {node_image} AS web
WORKDIR /web
COPY services/{name}/{folder}/package.json services/{name}/{folder}/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY services/{name}/{folder}/ ./
RUN npm run build
"""

BUILT_DATA_DIR = "/opt/data"
WEB_DIR = "/opt/web"


def dockerfile(service: Service) -> str:
    build_data = web_stage = copy_data = ""
    if service.built_data is not None:
        module, setting = service.built_data
        build_data = f"RUN /opt/venv/bin/python -m {module} {BUILT_DATA_DIR}\n"
        copy_data += (f"COPY --from=builder {BUILT_DATA_DIR} {BUILT_DATA_DIR}\n"
                      f"ENV {service.env_name(setting)}={BUILT_DATA_DIR}\n")
    if service.web is not None:
        web = service.web
        web_stage = WEB_STAGE.format(name=service.name, folder=web.folder, output=web.output, node_image=NODE_IMAGE)
        copy_data += (f"COPY --from=web /web/{web.output} {WEB_DIR}\n"
                      f"ENV {service.env_name(web.setting)}={WEB_DIR}\n")
    return DOCKERFILE.format(name=service.name, package=service.package, port=service.port, factory=service.factory,
                             python_image=PYTHON_IMAGE, uv_version=UV_VERSION, uid=APP_UID, liveness=LIVENESS_PATH,
                             build_data=build_data, web_stage=web_stage, copy_data=copy_data)


# ----------------------------------------------------------------------------- files
HEADER = "# Generated by `make manifests` (deploy/k8s/render.py): change the generator, not this file.\n"


def dump(*documents: dict[str, Any]) -> str:
    return HEADER + "---\n".join(yaml.safe_dump(doc, sort_keys=False, width=120) for doc in documents)


def buildable(service: Service) -> bool:
    """Whether the service's image can be built: its package is a member of the workspace and in
    uv.lock (the Dockerfile installs it with `uv sync --frozen`). A service being written is not yet."""
    with (REPO_ROOT / "uv.lock").open("rb") as lock:
        locked = {package["name"] for package in tomllib.load(lock)["package"]}
    return (service.source_dir / "pyproject.toml").is_file() and service.name in locked


def rendered_files() -> Iterator[tuple[Path, str]]:
    """(path, text) of every file this script writes; a service's Dockerfile once it is buildable."""
    for service in SERVICES:
        check_settings(service)
    yield BASE_DIR / "kustomization.yaml", dump(kustomization())
    yield BASE_DIR / "namespace.yaml", dump(namespace())
    yield BASE_DIR / "kafka-topics.yaml", dump(*(kafka_topic(topic.name) for topic in ALL_TOPICS))
    for service in SERVICES:
        yield BASE_DIR / f"{service.name}.yaml", dump(
            deployment(service), k8s_service(service), autoscaler(service), disruption_budget(service),
            service_monitor(service))
        if buildable(service):
            yield service.source_dir / "Dockerfile", dockerfile(service)


def stale_files() -> list[Path]:
    return [path for path, text in rendered_files()
            if not path.is_file() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = stale_files()
        if stale:
            names = ", ".join(str(path.relative_to(REPO_ROOT)) for path in stale)
            print(f"stale (run `make manifests`): {names}", file=sys.stderr)
            return 1
        return 0
    for path, text in rendered_files():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
