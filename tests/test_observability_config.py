"""deploy/observability/: the Grafana dashboard and the Prometheus alert rules are well formed, and every
metric name their PromQL uses is one the services really expose (a /metrics scrape of the metrics
service, whose process also carries the runtime's technical metrics: consumer lag, dead letters,
handler latency and errors, outbox).

What is validated: the dashboard's JSON structure (panels, grid, targets, template variables) and the
rules' structure (groups, alert names, `for`, severity, summary); PromQL by a light check here
(balanced brackets, known functions and keywords, durations, metric names). When `promtool` is on the
PATH, the rules file and every dashboard expression (as a recording rule) also go through
`promtool check rules`, which parses PromQL fully; without it (as on these machines) that part is
skipped and said so."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from metrics.main import create_app
from metrics.settings import MetricsSettings

ROOT = Path(__file__).resolve().parents[1] / "deploy" / "observability"
DASHBOARD = ROOT / "grafana-dashboard.json"
ALERTS = ROOT / "prometheus-alerts.yml"

FUNCTIONS = {"sum", "rate", "increase", "histogram_quantile", "max", "min", "avg", "count", "delta", "irate",
             "topk", "bottomk", "abs", "clamp_min", "clamp_max", "label_values", "time", "vector", "absent"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool"}
DURATION = re.compile(r"^\d+[smhdwy]$")
SEVERITIES = {"warning", "critical"}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]


def dashboard_exprs() -> Iterator[tuple[str, str]]:
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (light parse: strings, label matchers, ranges,
    grouping clauses, numbers, functions and keywords left out). Fails on unbalanced brackets, an
    unknown function or a malformed range."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    depth = {"(": 0, "[": 0, "{": 0}
    pairs = {")": "(", "]": "[", "}": "{"}
    for char in text:
        if char in depth:
            depth[char] += 1
        elif char in pairs:
            depth[pairs[char]] -= 1
            assert depth[pairs[char]] >= 0, f"unbalanced {char!r} in {expr}"
    assert all(v == 0 for v in depth.values()), f"unbalanced brackets in {expr}"
    for window in re.findall(r"\[([^\]]*)\]", text):
        assert DURATION.match(window.strip()), f"bad range [{window}] in {expr}"
    text = re.sub(r"\boffset\s+\d+[smhdwy]", " ", text)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?", text):
        word, call = match.group(0).rstrip("( \t"), match.group(1)
        if call:
            assert word in FUNCTIONS or word in KEYWORDS, f"unknown function {word}() in {expr}"
        elif word not in KEYWORDS and not re.fullmatch(r"\d+[smhdwy]", word):
            names.add(word)
    return names


@pytest.fixture(scope="module")
async def exposed(infra: Any) -> set[str]:
    """Every sample name the metrics service's /metrics can have, from a real scrape after a refresh."""
    settings = MetricsSettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri,
                               mongo_db=f"test_obs_{uuid.uuid4().hex[:8]}", log_json=False)
    app = create_app(settings)
    await app.state.store.ensure_indexes()
    assert await app.state.consumer.lease.hold()  # the replica holding the counting lease exposes the floor's figures
    await app.state.exposition.refresh()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://metrics") as http:
        text = (await http.get("/metrics")).text
    await app.state.store.client.drop_database(settings.mongo_db)
    await app.state.store.client.close()
    names = set()
    for family in text_string_to_metric_families(text):
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
        names.update(family.name + s for s in suffixes.get(family.type, ("",)))
    return names


def test_the_dashboard_is_well_formed() -> None:
    board = dashboard()
    assert board["title"] and board["uid"] and board["schemaVersion"] >= 30
    variables = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "tenant", "business_line", "team"} <= variables
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    rows = {p["title"] for p in board["panels"] if p["type"] == "row"}
    assert {"Lead funnel", "Calls", "Pool operations", "Marketplace (锦囊集市)", "Training effect",
            "Service health"} <= rows
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y")) and grid["x"] + grid["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["targets"], panel
        for target in panel["targets"]:
            assert target["refId"] and target["expr"]
            for used in re.findall(r"\$(\w+)", target["expr"]):
                assert used in variables, f"{panel['title']}: ${used} is not a template variable"


def test_the_alert_rules_are_well_formed() -> None:
    seen = set()
    for rule in rules():
        assert rule["alert"] not in seen and re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])
        seen.add(rule["alert"])
        assert DURATION.match(rule["for"]) or rule["for"] == "0m"
        assert rule["labels"]["severity"] in SEVERITIES
        assert rule["annotations"]["summary"]
    assert {"ConsumerLagHigh", "DeadLettersAppearing", "ReclaimSpike", "FunnelStepCollapsed"} <= seen


@pytest.mark.integration
async def test_every_metric_the_dashboard_and_alerts_use_is_exposed(exposed: set[str]) -> None:
    used: dict[str, set[str]] = {}
    for where, expr in [*dashboard_exprs(), *((r["alert"], r["expr"]) for r in rules())]:
        for name in metric_names(expr.replace("$", "")):
            used.setdefault(name, set()).add(where)
    missing = {name: sorted(places) for name, places in used.items() if name not in exposed}
    assert not missing, f"not exposed by any service: {missing}"
    # the service health: consumer lag, dead-letter growth, handler latency are among them
    assert {"telesales_consumer_lag_messages", "telesales_dead_letters_total",
            "telesales_handler_duration_seconds_bucket"} <= set(used)


def test_the_light_promql_check_catches_mistakes() -> None:
    assert metric_names('sum by (team) (rate(telesales_calls_total{tenant="a"}[5m]))') == {"telesales_calls_total"}
    for bad in ("sum(rate(x[5m])", "rate(x[5 minutes])", "summ(x)", 'x{a="1"'):
        with pytest.raises(AssertionError):
            metric_names(bad)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed: PromQL checked lightly only")
def test_promtool_accepts_the_rules_and_every_dashboard_expression(tmp_path: Path) -> None:
    subprocess.run(["promtool", "check", "rules", str(ALERTS)], check=True, capture_output=True)
    recorded = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{n}", "expr": re.sub(r"\$\{?(\w+)\}?", "x", expr)}
        for n, (_, expr) in enumerate(dashboard_exprs())]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(recorded), encoding="utf-8")
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
