#!/usr/bin/env python3
"""marketplace benchmark over HTTP on the real database (`make bench-marketplace`).

Lists 10,000 tips through the marketplace's own HTTP API (write, submit, approve against the review
checklist), then lets 100 concurrent users browse and search them over HTTP, each on a keep-alive
connection of its own, and measures in one run, one phase after the other:

  saturation   every user without pause: a search (full text in Chinese, filters by stage, product line
               and tag, sorts by relevance, rating, sales and recency, sometimes the next page), then the
               detail of two tips it found; requests per second and latency of search and of tip detail
  paced        the same mix offered on a fixed schedule at half the saturation rate, spread over the
               same 100 connections: latency from each request's scheduled start (no coordinated omission)
  checks       every answer 200 with what was asked (a detail names its tip, a filtered page only tips
               that match the filter); sampled searches ranked as a brute-force scan of the generated
               corpus ranks them

Target (issue 5): p99 <= 50 ms for search and for tip detail. Exit 0 when everything was measured (also
when the target is missed: "TARGET MISSED"), 1 when an answer was wrong or anything broke. See README.md
beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from pymongo import AsyncMongoClient

from marketplace import domain
from marketplace.domain import REVIEW_CHECKLIST
from telesales_contracts.marketplace import CallStage
from telesales_testkit.auth import auth_headers
from telesales_testkit.bench import (
    REPO_ROOT,
    BenchError,
    BenchService,
    CpuWatch,
    bench_run,
    find_pids,
    free_port,
    git_state,
    latency_summary,
    note,
    publish_report,
    run_benchmark,
    say,
    wait_machine_quiet,
)
from telesales_testkit.memory import Memory, memory_table

DEFAULT_OUT = REPO_ROOT / "bench-results" / "marketplace.json"
TARGET_P99_MS = 50.0
DISTURBED_PCT = 15.0
SEED_CONCURRENCY = 32
REVIEWER = "bench-reviewer"
PAGE = 20

PRODUCT_LINES = ("education", "insurance", "wealth", "health", "auto")
TAGS = ("新客户", "老客户", "节日活动", "双十一", "续费", "转介绍", "高意向", "沉默客户", "价格敏感", "决策人",
        "宝妈", "上班族", "vip", "first-call")
PRICES = (9, 19, 29, 39, 49, 59, 69, 88, 99)

# What tips of each call stage talk about (开场白、报价、异议处理、服务介绍、促成).
STAGE_PHRASES: dict[CallStage, tuple[str, ...]] = {
    CallStage.OPENING: (
        "开场白三十秒内说明来意", "先问候再确认客户身份", "用客户关心的问题开头", "避免一开口就推销",
        "报出公司和自己的名字", "提到客户上次浏览的课程", "用轻松的语气拉近距离", "先问方便接听吗",
        "用老客户的案例引起兴趣", "声音要有笑容"),
    CallStage.QUOTING: (
        "报价时先讲价值再讲价格", "分期付款更容易接受", "限时优惠要说清截止日期", "对比同类产品的价格",
        "把总价拆成每天的花费", "先报高配再报基础版", "说明价格包含哪些服务", "不要主动打折",
        "优惠名额有限", "价格异议留到最后处理"),
    CallStage.OBJECTION_HANDLING: (
        "客户说太贵了怎么办", "客户说考虑一下", "客户说没时间学习", "客户说已经有别家的课程",
        "先认同再转折", "把异议变成提问", "客户说要和家人商量", "客户担心效果没有保障",
        "客户说以前被骗过", "用数据打消顾虑"),
    CallStage.SERVICE_INTRODUCTION: (
        "介绍课程体系和学习路径", "售后服务全程跟进", "一对一辅导答疑", "学习效果有保障",
        "老师都有十年以上经验", "随时可以回看直播", "专属班主任督促学习", "结业有证书",
        "学员社群互相交流", "退费规则讲清楚"),
    CallStage.CLOSING: (
        "促成签单不要犹豫", "确认付款时间和方式", "用二选一提问推进", "给客户一个马上行动的理由",
        "总结客户认可的三个好处", "现在报名送学习资料", "帮客户算一笔账", "约好下一次回访时间",
        "沉默是成交前的信号", "签约后发送欢迎短信"),
}
COMMON_PHRASES = (
    "客户的需求要先问清楚", "电话沟通要简短有力", "建立信任比推销更重要", "记录每一次通话的要点",
    "倾听比说话更重要", "站在客户的角度思考", "语速放慢吐字清晰", "每天复盘自己的录音",
    "不要和客户争辩", "回访时提到上次聊过的内容", "真诚是最好的技巧", "方案要贴合客户的情况")
TITLE_OPENERS = ("实战", "金牌话术", "三步法", "一招搞定", "高手总结", "新人必看", "冠军经验", "案例拆解")

# What users type into the search box: phrases and fragments of what the tips say.
QUERIES = (
    "太贵", "考虑一下", "分期付款", "开场白", "签单", "售后服务", "没时间", "和家人商量", "二选一",
    "报价", "限时优惠", "一对一辅导", "效果", "信任", "回访", "客户说太贵了", "价格异议", "课程体系",
    "老客户案例", "付款时间", "拉近距离", "证书", "退费", "促成", "vip", "异议", "班主任", "方便接听")


@dataclass
class Tip:
    tip_id: str
    author_id: str
    title: str
    summary: str
    body: str
    stage: str
    product_line: str
    tags: list[str]
    price: int

    def payload(self) -> dict[str, Any]:
        return {"id": self.tip_id, "title": self.title, "summary": self.summary, "body": self.body,
                "stage": self.stage, "product_line": self.product_line, "tags": self.tags, "price": self.price}


def generate_tips(count: int, authors: int, rng: random.Random) -> list[Tip]:
    tips = []
    for n in range(count):
        stage = rng.choice(list(CallStage))
        own = STAGE_PHRASES[stage]
        title = f"{rng.choice(TITLE_OPENERS)}：{rng.choice(own)}"
        summary = "，".join(rng.sample(own, 2)) + "。"
        sentences = rng.sample(own, 5) + rng.sample(COMMON_PHRASES, 4)
        rng.shuffle(sentences)
        body = "。".join(sentences) + "。"
        tags = rng.sample(TAGS, rng.randint(1, 3))
        tips.append(Tip(f"tip-{n:05d}", f"seller-{rng.randrange(authors):03d}", title, summary, body, stage.value,
                        rng.choice(PRODUCT_LINES), tags, rng.choice(PRICES)))
    return tips


# =============================================================================== the service under test
class Service(BenchService):
    """The marketplace under test: its own database, consumer group and event source."""

    def __init__(self, run: str, port: int, log_path: Path) -> None:
        super().__init__("marketplace", "marketplace", "MARKETPLACE_", run, port, log_path)


async def seed(http: httpx.AsyncClient, service: Service, tenant: str, tips: list[Tip]) -> dict[str, Any]:
    """Every tip written, submitted and approved through the HTTP API, SEED_CONCURRENCY at a time."""
    base = service.base_url
    approve = {"checks": dict.fromkeys(REVIEW_CHECKLIST, True), "comment": "bench"}
    reviewer = auth_headers("operator", REVIEWER, tenant=tenant)
    queue: asyncio.Queue[Tip] = asyncio.Queue()
    for tip in tips:
        queue.put_nowait(tip)
    done = 0

    async def expect(response: httpx.Response, status: int, what: str) -> None:
        if response.status_code != status:
            raise BenchError(f"{what}: {response.status_code} {response.text[:500]}")

    async def worker() -> None:
        nonlocal done
        while not queue.empty():
            tip = queue.get_nowait()
            author = auth_headers("agent", tip.author_id, tenant=tenant)
            await expect(await http.post(f"{base}/v1/tips", json=tip.payload(), headers=author), 201,
                         f"POST /v1/tips {tip.tip_id}")
            await expect(await http.post(f"{base}/v1/tips/{tip.tip_id}/versions/1/submit", headers=author), 200,
                         f"submit {tip.tip_id}")
            await expect(await http.post(f"{base}/v1/tips/{tip.tip_id}/versions/1/review", json=approve,
                                         headers=reviewer), 200, f"review {tip.tip_id}")
            done += 1

    t0 = time.perf_counter()

    async def progress() -> None:
        while True:
            await asyncio.sleep(10)
            note(f"seed: {done:,} of {len(tips):,} tips listed ({done / (time.perf_counter() - t0):,.0f}/s)")

    reporter = asyncio.create_task(progress())
    try:
        await asyncio.gather(*(worker() for _ in range(SEED_CONCURRENCY)))
    finally:
        reporter.cancel()
    elapsed = time.perf_counter() - t0
    return {"tips": len(tips), "requests": 3 * len(tips), "elapsed_s": elapsed,
            "requests_per_s": 3 * len(tips) / elapsed, "concurrency": SEED_CONCURRENCY}


# =============================================================================== the load
class Connection:
    """One user's keep-alive HTTP/1.1 connection. A plain client: httpx costs the load generator several
    times the CPU per request, CPU this 2-core machine would take from the service under test."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": f"{host}:{port}", **headers}.items()).encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"GET " + path.encode("ascii") + b" HTTP/1.1\r\n" + self.head + b"\r\n")
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                raise BenchError(f"GET {path}: chunked answer, not expected from a JSON route")
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        body = await self.reader.readexactly(length)
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
            self.writer = self.reader = None


@dataclass(frozen=True)
class Search:
    kind: str
    params: tuple[tuple[str, str], ...]

    def path(self, cursor: str | None = None) -> str:
        params = [*self.params, ("limit", str(PAGE))] + ([("cursor", cursor)] if cursor else [])
        return "/v1/tips?" + urlencode(params, quote_via=quote)


# What a user's search looks like, with its share of all searches.
SEARCH_MIX: tuple[tuple[str, float], ...] = (
    ("text", 0.35), ("text+stage", 0.10), ("stage", 0.15), ("product_line+tag", 0.10), ("rating", 0.10),
    ("sales", 0.10), ("recency", 0.10))
NEXT_PAGE_SHARE = 0.2


def make_search(rng: random.Random) -> Search:
    kind = rng.choices([k for k, _ in SEARCH_MIX], [w for _, w in SEARCH_MIX])[0]
    stage = rng.choice(list(CallStage)).value
    params: list[tuple[str, str]] = []
    if kind.startswith("text"):
        params.append(("q", rng.choice(QUERIES)))
        if kind == "text+stage":
            params.append(("stage", stage))
    elif kind == "stage":
        params.append(("stage", stage))
    elif kind == "product_line+tag":
        params += [("product_line", rng.choice(PRODUCT_LINES)), ("tag", rng.choice(TAGS))]
    elif kind in ("rating", "sales"):
        params.append(("sort", kind))
        if rng.random() < 0.5:
            params.append(("stage", stage))
    return Search(kind, tuple(params))


@dataclass
class Record:
    """One request: what, when it was due (paced) or sent, when its answer was in."""

    route: str  # "search" or "detail"
    kind: str
    due: float
    done: float


@dataclass
class Load:
    tenant: str
    tips: dict[str, Tip]
    users: int
    records: list[Record] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    searches: int = 0
    empty_pages: int = 0

    def check_page(self, search: Search, status: int, body: bytes, path: str) -> tuple[list[str], str | None]:
        """The tips a page lists (each must be a listed bench tip that matches the search's filters)."""
        if status != 200:
            self.wrong.append(f"GET {path}: {status} {body[:300]!r}")
            return [], None
        page = json.loads(body)
        filters = dict(search.params)
        ids = []
        for item in page["items"]:
            tip = self.tips.get(item["tip_id"])
            if tip is None or item["status"] != "listed":
                self.wrong.append(f"GET {path}: {item['tip_id']} is not a listed bench tip")
                continue
            if ("stage" in filters and tip.stage != filters["stage"]) or (
                    "product_line" in filters and tip.product_line != filters["product_line"]) or (
                    "tag" in filters and filters["tag"] not in tip.tags):
                self.wrong.append(f"GET {path}: {tip.tip_id} does not match the filter")
            ids.append(item["tip_id"])
        if not ids:
            self.empty_pages += 1
        return ids, page.get("next_cursor")

    def check_detail(self, tip_id: str, status: int, body: bytes) -> None:
        if status != 200:
            self.wrong.append(f"GET /v1/tips/{tip_id}: {status} {body[:300]!r}")
            return
        tip = json.loads(body)
        if tip["tip_id"] != tip_id or tip["status"] != "listed" or tip["access"] is not False:
            self.wrong.append(f"GET /v1/tips/{tip_id}: answered {body[:300]!r}")


async def user_session(load: Load, conn: Connection, rng: random.Random, deadline: float,
                       slots: asyncio.Queue[float] | None) -> None:
    """One user: search (sometimes the next page too), then the detail of two tips found. Without `slots`
    each request follows the last at once; with them each waits for its scheduled start."""
    ids = list(load.tips)

    async def request(route: str, kind: str, path: str) -> tuple[int, bytes, bool]:
        if slots is not None:
            due = await slots.get()
            if due < 0:  # the schedule is over
                return 0, b"", False
        else:
            due = time.perf_counter()
        status, body = await conn.get(path)
        done = time.perf_counter()
        if done <= deadline:
            load.records.append(Record(route, kind, due, done))
        return status, body, True

    while time.perf_counter() < deadline:
        search = make_search(rng)
        path = search.path()
        status, body, ok = await request("search", search.kind, path)
        if not ok:
            return
        found, cursor = load.check_page(search, status, body, path)
        if cursor and rng.random() < NEXT_PAGE_SHARE:
            path = search.path(cursor)
            status, body, ok = await request("search", search.kind + "+page2", path)
            if not ok:
                return
            more, _ = load.check_page(search, status, body, path)
            found = found + more
        for tip_id in rng.sample(found, 2) if len(found) >= 2 else rng.sample(ids, 2):
            status, body, ok = await request("detail", "detail", f"/v1/tips/{tip_id}")
            if not ok:
                return
            load.check_detail(tip_id, status, body)


async def run_users(load: Load, service: Service, seconds: float, seed: int, rate: float | None,
                    cpu_groups: dict[str, list[int]]) -> dict[str, Any]:
    """`load.users` users for `seconds`; closed loop without `rate`, else requests due at `rate` per second."""
    load.records = []
    conns = [Connection("127.0.0.1", service.port, auth_headers("agent", f"buyer-{n:03d}", tenant=load.tenant))
             for n in range(load.users)]
    slots: asyncio.Queue[float] | None = asyncio.Queue() if rate else None
    watch = CpuWatch(cpu_groups).start()
    t0 = time.perf_counter()
    deadline = t0 + seconds

    async def schedule() -> None:
        assert slots is not None and rate
        n = 0
        while True:
            due = t0 + n / rate
            if due > deadline:
                break
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            slots.put_nowait(due)
            n += 1
        for _ in conns:
            slots.put_nowait(-1.0)

    tasks = [asyncio.create_task(user_session(load, conn, random.Random(seed * 1000 + n), deadline, slots))
             for n, conn in enumerate(conns)]
    scheduler = asyncio.create_task(schedule()) if rate else None
    try:
        await asyncio.gather(*tasks)
        if scheduler is not None:
            await scheduler
    finally:
        for conn in conns:
            await conn.close()
    cpu = watch.stop()
    service.check_alive()
    return summarize(load.records, seconds, cpu, rate)


def summarize(records: list[Record], seconds: float, cpu: dict[str, Any], rate: float | None) -> dict[str, Any]:
    by_route: dict[str, list[float]] = defaultdict(list)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in records:
        by_route[r.route].append(r.done - r.due)
        by_kind[r.kind].append(r.done - r.due)
    result: dict[str, Any] = {
        "seconds": seconds, "requests": len(records), "requests_per_s": len(records) / seconds,
        "offered_per_s": rate, "cpu": cpu,
        "routes": {route: {"requests": len(v), "requests_per_s": len(v) / seconds, "latency": latency_summary(v)}
                   for route, v in sorted(by_route.items())},
        "search_kinds": {kind: {"requests": len(v), "latency": latency_summary(v)}
                         for kind, v in sorted(by_kind.items()) if kind != "detail"},
    }
    return result


# =============================================================================== checks
async def verify_ranking(http: httpx.AsyncClient, service: Service, load: Load, rng: random.Random,
                         samples: int) -> dict[str, Any]:
    """Sampled text searches against a brute-force ranking of the generated corpus: the first page's
    scores (query tokens a tip has) are the best scores any listed tip has, in order."""
    terms = [set(domain.search_tokens(t.title, t.summary, t.body, *t.tags)) for t in load.tips.values()]
    checked = 0
    for q in (rng.choice(QUERIES) for _ in range(samples)):
        tokens = set(domain.query_tokens(q))
        scores = sorted((len(tokens & t) for t in terms), reverse=True)
        response = await http.get(f"{service.base_url}/v1/tips", params={"q": q, "limit": PAGE},
                                  headers=auth_headers("agent", "bench-reader", tenant=load.tenant))
        if response.status_code != 200:
            raise BenchError(f"ranking check q={q!r}: {response.status_code} {response.text[:300]}")
        got = [item["score"] for item in response.json()["items"]]
        want = [s for s in scores[:PAGE] if s > 0]
        if got != want:
            load.wrong.append(f"q={q!r}: scores {got} where a scan of the corpus gives {want}")
        checked += 1
    return {"queries": checked}


# =============================================================================== report
def render(report: dict[str, Any]) -> str:
    sat, paced, seeded = report["saturation"], report["paced"], report["seed"]
    w = 58

    def row(label: str, phase: dict[str, Any], route: str) -> str:
        figures = phase["routes"].get(route)
        if not figures:
            return f"{label:<{w}} (none)"
        lat = figures["latency"]
        verdict = "met" if lat["p99_ms"] <= TARGET_P99_MS else "TARGET MISSED"
        return (f"{label:<{w}} {figures['requests_per_s']:>7,.0f} req/s   p50 {lat['p50_ms']:>6.1f}   "
                f"p99 {lat['p99_ms']:>6.1f}   max {lat['max_ms']:>6.1f} ms   p99 <= {TARGET_P99_MS:.0f} ms: {verdict}")

    lines = [
        f"marketplace benchmark  run {report['run']}  {report['date']}  {report['cpu_count']} CPUs  "
        f"commit {report['git']['commit']}",
        f"{seeded['tips']:,} listed tips; {report['users']} concurrent users over HTTP keep-alive; tenant "
        f"{report['tenant']}",
        "-" * 118,
        f"{'seed: write + submit + approve through the HTTP API':<{w}} {seeded['elapsed_s']:>7.1f} s   "
        f"({seeded['requests_per_s']:,.0f} requests/s, {seeded['concurrency']} at a time; not a target)",
        f"saturation: {report['users']} users without pause, {sat['seconds']:.0f} s, "
        f"{sat['requests_per_s']:,.0f} requests/s in all",
        row("   search", sat, "search"),
        row("   tip detail", sat, "detail"),
    ]
    if paced["requests"]:
        lines += [
            f"paced: {paced['offered_per_s']:,.0f} requests/s due on a fixed schedule "
            f"({'as asked' if paced.get('rate_asked') else 'half of saturation'}), "
            f"{report['users']} connections, {paced['seconds']:.0f} s; latency from the scheduled start",
            row("   search", paced, "search"),
            row("   tip detail", paced, "detail"),
        ]
    lines.append("search latency by kind, saturation / paced (p50 / p99 ms):")
    for kind, figures in sat["search_kinds"].items():
        p = paced.get("search_kinds", {}).get(kind) if paced["requests"] else None
        lines.append(f"   {kind:<22} {figures['requests']:>7,} requests  {figures['latency']['p50_ms']:>6.1f} / "
                     f"{figures['latency']['p99_ms']:>6.1f}" + (f"   |   {p['latency']['p50_ms']:>6.1f} / "
                                                                 f"{p['latency']['p99_ms']:>6.1f}" if p else ""))
    checks = report["checks"]
    lines += [
        f"checks: {checks['answers_checked']:,} answers as asked, {checks['ranking']['queries']} searches ranked as "
        f"a scan of the corpus ranks them; {checks['empty_pages']:,} empty pages",
        "-" * 118,
        "CPU at saturation (% of one core):",
    ]
    for label, pct in sat["cpu"]["pct_of_one_core"].items():
        lines.append(f"   {label:<40} {pct:>6.0f} %   ({sat['cpu']['cpu_s'][label]:.1f} CPU s)   "
                     + (f"paced: {paced['cpu']['pct_of_one_core'].get(label, 0):.0f} %" if paced["requests"] else ""))
    lines.append(f"   {'machine busy':<40} {sat['cpu']['machine_busy_pct']:>6.0f} % of all cores")
    service_cpu_ms = 1000 * sat["cpu"]["cpu_s"]["marketplace"] / max(1, sat["requests"])
    lines.append(f"   marketplace CPU per request at saturation: {service_cpu_ms:.2f} ms (one process: at most "
                 f"{1000 / service_cpu_ms:,.0f} requests/s per core)")
    lines += ["memory of the marketplace (RSS):", *memory_table(report["memory_rss_bytes"])]
    for text in report["warnings"]:
        lines.append(f"note: {text}")
    return "\n".join(lines)


# =============================================================================== main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tips", type=int, default=10_000, help="listed tips (default 10,000)")
    parser.add_argument("--authors", type=int, default=200, help="sellers who wrote them (default 200)")
    parser.add_argument("--users", type=int, default=100, help="concurrent users (default 100)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of the saturation phase")
    parser.add_argument("--paced-duration", type=float, default=30.0, help="seconds of the paced phase (0: skip)")
    parser.add_argument("--paced-rate", type=float, default=None,
                        help="requests/s of the paced phase (default: half of the saturation just measured)")
    parser.add_argument("--warm-up", type=float, default=5.0, help="seconds of load before measuring")
    parser.add_argument("--ranking-checks", type=int, default=50, help="searches checked against a corpus scan")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    parser.add_argument("--stack-broker", dest="private_broker", action="store_false",
                        help="use the local stack's broker instead of a private one")
    parser.add_argument("--idle-timeout", type=float, default=120.0,
                        help="seconds to wait for a quiet machine before each phase")
    return parser.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    return await bench_run("marketplace", args.out, args.private_broker, f"{args.tips:,} tips, {args.users} users",
                           lambda run, out_path, stack_env: _amain(args, run, out_path, stack_env))


async def _amain(args: argparse.Namespace, run: str, out_path: Path, stack_env: dict[str, str]) -> int:
    tenant = f"bench-{run}"
    rng = random.Random(args.seed)
    tips = generate_tips(args.tips, args.authors, rng)
    load = Load(tenant, {t.tip_id: t for t in tips}, args.users)
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack_env["TELESALES_MONGO_URI"], tz_aware=True,
                                                               appname="bench-marketplace")
    service = Service(run, free_port(), out_path.parent / f"marketplace-service-{run}.log")
    kafka_port = int(stack_env["TELESALES_KAFKA_BOOTSTRAP"].rsplit(":", 1)[1])
    mongo_port = int(stack_env["TELESALES_MONGO_URI"].split("//", 1)[1].split("/", 1)[0].split(":")[1])
    warnings: list[str] = []
    code: int | None = None
    try:
        say(f"1/5 marketplace: start, list {args.tips:,} tips through its HTTP API ...")
        service.start(stack_env)
        async with httpx.AsyncClient(timeout=60) as http:
            ready_s = await service.wait_ready(http)
            note(f"marketplace ready after {ready_s:.1f}s (pid {service.proc.pid}, port {service.port})")
            memory = Memory({"marketplace": service.proc.pid})
            memory.take("at readiness")
            memory.phase = "seed"
            seeded = await seed(http, service, tenant, tips)
            memory.phase = None
            memory.take(f"idle, {args.tips:,} tips listed")
            say(f"    {seeded['tips']:,} tips listed in {seeded['elapsed_s']:.1f}s")
            pids = find_pids(kafka_port, mongo_port, exclude={os.getpid()})
            cpu_groups = {"marketplace": [service.proc.pid], "mongod": pids["mongod"],
                          "kafka (broker)": pids["kafka (broker)"], "load generator (this process)": [os.getpid()]}

            await run_users(load, service, args.warm_up, args.seed + 1, None, cpu_groups)
            await wait_machine_quiet(args.idle_timeout)
            say(f"2/5 saturation: {args.users} users without pause for {args.duration:.0f}s ...")
            memory.phase = "saturation"
            sat = await run_users(load, service, args.duration, args.seed + 2, None, cpu_groups)
            memory.phase = None
            answers = len(load.records)
            say(f"    {sat['requests_per_s']:,.0f} requests/s; " + "; ".join(
                f"{route} {f['requests_per_s']:,.0f}/s p99 {f['latency']['p99_ms']:.1f} ms"
                for route, f in sat["routes"].items()))

            paced: dict[str, Any] = {"requests": 0}
            if args.paced_duration > 0:
                await wait_machine_quiet(args.idle_timeout)
                rate = args.paced_rate or sat["requests_per_s"] / 2
                say(f"3/5 paced: {rate:,.0f} requests/s for {args.paced_duration:.0f}s ...")
                memory.phase = "paced"
                paced = await run_users(load, service, args.paced_duration, args.seed + 3, rate, cpu_groups)
                paced["rate_asked"] = bool(args.paced_rate)
                memory.phase = None
                answers += len(load.records)
                say("    " + "; ".join(f"{route} p50 {f['latency']['p50_ms']:.1f} ms p99 {f['latency']['p99_ms']:.1f} ms"
                                       for route, f in paced["routes"].items()))
            else:
                say("3/5 paced: skipped (--paced-duration 0)")

            say("4/5 checks: ranking against a scan of the corpus ...")
            ranking = await verify_ranking(http, service, load, rng, args.ranking_checks)
            if load.wrong:
                raise BenchError(f"{len(load.wrong)} wrong answers, e.g.:\n  " + "\n  ".join(load.wrong[:10]))
            say(f"    ok ({ranking['queries']} searches, {answers:,} answers)")
            await memory.close()
        code = service.stop()
        # uvicorn shuts down gracefully on SIGTERM and then re-raises it: -15 is a clean stop.
        if code not in (0, None, -signal.SIGTERM):
            warnings.append(f"the marketplace exited with {code} on SIGTERM; log {service.log_path}")
    except BenchError as error:
        say(f"\nBENCHMARK FAILED: {error}")
        return 1
    finally:
        if code is None:
            service.stop()
        if args.keep:
            note(f"--keep: database {service.db} left in place")
        else:
            await mongo.drop_database(service.db)
        await mongo.close()

    say("5/5 report")
    for phase, figures in (("saturation", sat), *((("paced", paced),) if paced["requests"] else ())):
        other = figures["cpu"]["pct_of_one_core"].get("everything else on the machine", 0.0)
        if other > DISTURBED_PCT:
            warnings.append(f"DISTURBED: during {phase} other processes used {other:.0f} % of a core")
    targets = {f"{phase}_{route}_p99_met": figures["routes"][route]["latency"]["p99_ms"] <= TARGET_P99_MS
               for phase, figures in (("saturation", sat), ("paced", paced)) if figures["requests"]
               for route in ("search", "detail") if route in figures["routes"]}
    report = {
        "benchmark": "marketplace", "run": run, "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(), "python": platform.python_version(), "git": git_state(), "tenant": tenant,
        "users": args.users, "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "search_mix": dict(SEARCH_MIX), "seed": seeded, "saturation": sat, "paced": paced,
        "target_p99_ms": TARGET_P99_MS, "targets": targets,
        "checks": {"answers_checked": answers, "ranking": ranking, "empty_pages": load.empty_pages,
                   "search_kinds": dict(Counter(r.kind for r in load.records))},
        "memory_rss_bytes": memory.points, "warnings": warnings,
    }
    publish_report(out_path, report, render(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: amain(args))


if __name__ == "__main__":
    sys.exit(main())
