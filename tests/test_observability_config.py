"""deploy/observability/ and docs/runbooks/: the Grafana dashboard and the Prometheus alert rules are well
formed, every metric name their PromQL uses is one the services really expose (a /metrics scrape of the
metrics service, whose process also carries the runtime's technical metrics: consumer lag, dead letters,
handler latency and errors, outbox, HTTP requests; `up` is Prometheus' own), and the floor's figures are
always aggregated (only one metrics replica exposes them: a raw series changes with the replica). Every
alert has a runbook with the on-call's sections, every runbook an alert, and every alert a unit test.

What is validated: the dashboard's JSON structure (panels, grid, targets, template variables) and the
rules' structure (groups, alert names, `for`, severity, summary, runbook_url); PromQL by a light check here
(balanced brackets, known functions and keywords, durations, metric names). When `promtool` is on the
PATH (Debian package `prometheus`; deploy/local/install.sh installs it), the rules file and every dashboard
expression (as a recording rule) also go through `promtool check rules`, which parses PromQL fully, and
the rules through `promtool test rules` with prometheus-alerts*.test.yml (input series, expected alerts);
without it that part is skipped and said so."""

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

from metrics.exposition import FAMILY_NAMES
from metrics.main import create_app
from metrics.replicas import REPLICA_FAMILY_NAMES
from metrics.settings import MetricsSettings

REPOSITORY = Path(__file__).resolve().parents[1]
ROOT = REPOSITORY / "deploy" / "observability"
DASHBOARD = ROOT / "grafana-dashboard.json"
ALERTS = ROOT / "prometheus-alerts.yml"
ALERT_TESTS = sorted(ROOT.glob("prometheus-alerts*.test.yml"))  # promtool's unit tests of the rules
RUNBOOKS = REPOSITORY / "docs" / "runbooks"
RUNBOOK_SECTIONS = ("What it means", "Impact on the floor", "Check", "Fix", "Escalate")
PROMETHEUS_SERIES = {"up"}  # made by Prometheus per target, not exposed by a service

FUNCTIONS = {"sum", "rate", "increase", "histogram_quantile", "max", "min", "avg", "count", "delta", "irate",
             "topk", "bottomk", "abs", "clamp_min", "clamp_max", "label_values", "time", "vector", "absent"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset", "bool"}
DURATION = re.compile(r"^\d+[smhdwy]$")
SEVERITIES = {"warning", "critical"}
# The floor's figures: exposed by the metrics replica holding the counting lease only (metrics/replicas.py).
FLOOR_FAMILIES = set(FAMILY_NAMES) - set(REPLICA_FAMILY_NAMES)
AGGREGATIONS = {"sum", "max", "min", "avg", "count", "topk", "bottomk"}


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


def unaggregated_floor_series(expr: str) -> list[str]:
    """The floor's metrics an expression uses outside any aggregation: raw series, whose instance and pod
    labels change when another metrics replica takes the counting lease (a comparison with `offset` then
    matches nothing, a panel shows one line per replica that held it)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    found = []
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        family = re.sub(r"_(total|bucket|sum|count)$", "", match.group(0))
        if (family in FLOOR_FAMILIES or match.group(0) in FLOOR_FAMILIES) and not _aggregated(text, match.start()):
            found.append(match.group(0))
    return found


def _aggregated(text: str, position: int) -> bool:
    """Whether an aggregation operator's brackets enclose `position`."""
    depth = 0
    for i in range(position - 1, -1, -1):
        if text[i] == ")":
            depth += 1
        elif text[i] == "(":
            if depth:
                depth -= 1
                continue
            word = re.search(r"([A-Za-z_]+)\s*$", text[:i])
            if word and word.group(1) in AGGREGATIONS:
                return True
    return False


def runbook_path(rule: dict[str, Any]) -> Path:
    return REPOSITORY / rule["annotations"]["runbook_url"]


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
            "Service health", "HTTP"} <= rows
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
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule["annotations"]["runbook_url"] == f"docs/runbooks/{rule['alert']}.md"
    assert {"ConsumerLagHigh", "DeadLettersAppearing", "ReclaimSpike", "FunnelStepCollapsed", "HttpServerErrors",
            "OutboxRelayStalled", "OutboxBacklogGrowing", "TargetDown", "TargetsMissing",
            "MetricsFiguresNotExposed"} <= seen


def test_every_alert_has_a_runbook_and_every_runbook_an_alert() -> None:
    alerts = {rule["alert"] for rule in rules()}
    missing = sorted(rule["runbook_url"] for rule in (r["annotations"] for r in rules())
                     if not (REPOSITORY / rule["runbook_url"]).is_file())
    assert not missing, f"alerts whose runbook does not exist: {missing}"
    orphans = sorted(path.name for path in RUNBOOKS.glob("*.md") if path.name != "README.md" and path.stem not in alerts)
    assert not orphans, f"runbooks of no alert: {orphans}"


def test_every_runbook_answers_the_on_call_questions() -> None:
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    for rule in rules():
        text = runbook_path(rule).read_text(encoding="utf-8")
        assert text.startswith(f"# {rule['alert']}\n"), rule["alert"]
        headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
        assert headings == list(RUNBOOK_SECTIONS), f"{rule['alert']}: sections {headings}"
        assert "```promql" in text or "```sh" in text, f"{rule['alert']}: no command to check with"
        assert f"[{rule['alert']}]({rule['alert']}.md)" in index, f"{rule['alert']} is not in the runbooks' index"


def test_every_alert_rule_is_unit_tested() -> None:
    """prometheus-alerts*.test.yml make every alert fire at least once (promtool runs them, below)."""
    fired = set()
    for path in ALERT_TESTS:
        tests = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert tests["rule_files"] == [ALERTS.name]
        fired |= {case["alertname"] for test in tests["tests"] for case in test.get("alert_rule_test", [])
                  if case.get("exp_alerts")}
    assert {rule["alert"] for rule in rules()} - fired == set()


def test_the_floor_figures_are_always_aggregated() -> None:
    raw = {where: found for where, expr in [*dashboard_exprs(), *((r["alert"], r["expr"]) for r in rules())]
           if (found := unaggregated_floor_series(expr))}
    assert not raw, f"floor series used raw (one per metrics replica that held the lease): {raw}"


def test_the_aggregation_check_catches_raw_floor_series() -> None:
    assert unaggregated_floor_series('telesales_funnel_today_conversion_ratio{tenant="a"} < 0.5') == [
        "telesales_funnel_today_conversion_ratio"]
    assert unaggregated_floor_series("rate(telesales_calls_total[5m]) / sum(rate(telesales_calls_total[5m]))") == [
        "telesales_calls_total"]
    assert unaggregated_floor_series(
        "histogram_quantile(0.5, sum by (le) (rate(telesales_call_duration_seconds_bucket[5m])))"
        " + max by (step) (telesales_funnel_today_conversion_ratio offset 7d) + rate(telesales_handler_errors_total[5m])"
    ) == []


async def test_every_metric_the_dashboard_and_alerts_use_is_exposed(exposed: set[str]) -> None:
    used: dict[str, set[str]] = {}
    for where, expr in [*dashboard_exprs(), *((r["alert"], r["expr"]) for r in rules())]:
        for name in metric_names(expr.replace("$", "")):
            used.setdefault(name, set()).add(where)
    missing = {name: sorted(places) for name, places in used.items()
               if name not in exposed and name not in PROMETHEUS_SERIES}
    assert not missing, f"not exposed by any service: {missing}"
    # the service health: consumer lag, dead-letter growth, handler latency are among them
    assert {"telesales_consumer_lag_messages", "telesales_dead_letters_total",
            "telesales_handler_duration_seconds_bucket", "http_server_request_duration_seconds_count",
            "http_server_request_duration_seconds_bucket", "telesales_outbox_oldest_unrelayed_age_seconds",
            "telesales_metrics_floor_exposed", "up"} <= set(used)


def test_the_light_promql_check_catches_mistakes() -> None:
    assert metric_names('sum by (team) (rate(telesales_calls_total{tenant="a"}[5m]))') == {"telesales_calls_total"}
    for bad in ("sum(rate(x[5m])", "rate(x[5 minutes])", "summ(x)", 'x{a="1"'):
        with pytest.raises(AssertionError):
            metric_names(bad)


NO_PROMTOOL = pytest.mark.skipif(shutil.which("promtool") is None,
                                 reason="promtool is not installed (Debian package prometheus): PromQL checked lightly only")


@NO_PROMTOOL
def test_promtool_accepts_the_rules_and_every_dashboard_expression(tmp_path: Path) -> None:
    checked = subprocess.run(["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    recorded = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{n}", "expr": re.sub(r"\$\{?(\w+)\}?", "x", expr)}
        for n, (_, expr) in enumerate(dashboard_exprs())]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(recorded), encoding="utf-8")
    result = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@NO_PROMTOOL
def test_promtool_unit_tests_of_the_rules_pass() -> None:
    """The alerts fire on the input series of prometheus-alerts*.test.yml exactly as expected (labels,
    annotations, timing), and sums over metrics replicas through a hand-over are the truth."""
    result = subprocess.run(["promtool", "test", "rules", *(path.name for path in ALERT_TESTS)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
