#!/usr/bin/env python3
"""lead-intake benchmark on the real broker and database (`make bench-intake`).

Pushes N distinct, valid leads (default 100,000) through leads.received.v1 into a lead-intake
service started as a subprocess, and measures in the same run:

  intake       N / (last qualified event seen - first send); every lead must be qualified once and
               stored once (else the run fails); latency per lead = qualified seen - its send.
  ceiling (a)  aiokafka produce -> consume of the same N payloads (same bytes) on a fresh 3-partition
               topic, no processing: N / (last consumed - first send).
  ceiling (b)  MongoDB bulk upserts of the same N lead documents (those the intake stored), batches of
               1000, unordered, into a fresh collection with the same unique (tenant_id, phone_e164)
               index: N / elapsed.
  ceiling      min(a, b); target: intake >= 50 % of it.

Measurements run one after the other, never overlapping. Prints a table and writes the same figures
as JSON (default bench-results/intake.json). Exit 0 when everything was measured (also when the
target is missed: "TARGET MISSED"), 1 when a lead was lost or anything failed.

    uv run python services/lead-intake/bench/bench_intake.py [--leads N] [--out PATH] [--keep]

See README.md beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import phonenumbers
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import ASCENDING, AsyncMongoClient, IndexModel, UpdateOne

from telesales_contracts.topics import DEAD_LETTERS, LEADS_MERGED, LEADS_QUALIFIED, LEADS_RECEIVED, LEADS_REJECTED
from telesales_runtime.kafka import topic_partitions
from telesales_testkit.bench import (
    LOAD_PRODUCER_OPTIONS,
    REPO_ROOT,
    BenchError,
    BenchService,
    CpuWatch,
    Sent,
    bench_run,
    find_pids,
    free_port,
    git_state,
    latency_summary,
    log_tail,
    note,
    publish_report,
    run_benchmark,
    say,
    send_all,
    wait_idle,
    wait_machine_quiet,
)
from telesales_testkit.kafka import position_group_at_end, topic_end_offsets
from telesales_testkit.memory import Memory, memory_table

sys.path.insert(0, str(Path(__file__).parent))  # the floors beside this file (also when loaded by path)
from intake_costs import measure_write_costs, render_costs  # noqa: E402
from intake_floor import measure_fixed_ceiling, measure_plain_pipeline  # noqa: E402
from intake_schedule import (  # noqa: E402
    LATENCY_READER_OPTIONS,
    SCHEDULE_PRODUCER_OPTIONS,
    send_on_schedule,
)

EXAMPLE = REPO_ROOT / "examples" / "lead-received.json"
DEFAULT_OUT = REPO_ROOT / "bench-results" / "intake.json"
OTHER_INTAKE = {"other lead-intake": "lead_intake.main"}

TARGET_RATIO = 0.50  # of min(a, b), and of ceiling (c)
TARGET_PLAIN_RATIO = 1.00  # intake / the plain pipeline
TARGET_SCHEDULE_P99_MS = 100.0  # received -> qualified at half of saturation, on a fixed schedule
BULK_BATCH = 1000
RAW_PARTITIONS = 3
PROGRESS_EVERY_S = 5.0
DISTURBED_PCT = 15.0  # CPU of processes outside the measurement (% of one core) that makes a phase "disturbed"

CONSUMER_OPTIONS: dict[str, Any] = {
    "enable_auto_commit": False,
    "max_partition_fetch_bytes": 8 * 1024 * 1024,
    "fetch_max_wait_ms": 100,
}
# The reader of the service's output asks for fewer, larger fetches: every fetch costs the broker CPU,
# which on 2 cores would be taken from the service under test. With these settings a qualified event is
# seen at most 0.5 s late (also cross-checked with the events' own Kafka timestamps).
READER_OPTIONS: dict[str, Any] = {**CONSUMER_OPTIONS, "fetch_max_wait_ms": 500, "fetch_min_bytes": 1024 * 1024}


# =============================================================================== lead generation
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
            "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力鹏宇浩然轩涵诺欣怡思远俊雨萱晨阳佳琪博嘉"
         "婷雪梅兰志国海峰亮斌鑫凯健飞波琳颖慧晓东楠倩蕾")
PINYIN = ("zhang", "wang", "li", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun", "ma", "zhu", "hu",
          "guo", "he", "gao", "lin", "luo", "zheng", "liang", "xie", "song", "tang", "han", "feng", "deng", "cao",
          "peng", "wei", "jie", "min", "jing", "li", "qiang", "lei", "jun", "yang", "yong", "yan", "juan", "tao",
          "ming", "chao", "xia", "ping", "gang", "hua", "yu", "hao", "xin", "yi", "bo", "jia", "ting", "xue")
EMAIL_DOMAINS = ("qq.com", "163.com", "126.com", "sina.com", "foxmail.com", "gmail.com", "139.com", "outlook.com",
                 "hotmail.com", "aliyun.com")
REGIONS = ("广东深圳", "广东广州", "北京朝阳", "北京海淀", "上海浦东", "上海徐汇", "浙江杭州", "浙江宁波", "江苏南京",
           "江苏苏州", "四川成都", "湖北武汉", "吉林长春", "山东济南", "山东青岛", "河南郑州", "湖南长沙", "福建厦门",
           "陕西西安", "重庆渝北", "天津滨海", "辽宁沈阳", "黑龙江哈尔滨", "安徽合肥", "云南昆明")
CITIES = ("深圳", "广州", "北京", "上海", "杭州", "南京", "苏州", "成都", "武汉", "长春", "济南", "青岛", "郑州", "长沙",
          "厦门", "西安", "重庆", "天津", "沈阳", "合肥", "东莞", "佛山", "宁波", "无锡")
COMPANY_WORDS = ("恒达", "华信", "鼎盛", "瑞丰", "博远", "启明", "中科", "泰和", "金桥", "新诚", "远航", "汇通", "锦程",
                 "天成", "宏图", "嘉禾", "卓越", "蓝海", "优创", "立信")
INDUSTRIES = ("科技", "贸易", "教育咨询", "建材", "信息技术", "医疗器械", "物流", "餐饮管理", "电子商务", "机械设备",
              "文化传媒", "建筑工程", "生物科技", "服装", "家居")
CHANNELS = ("百度SEM", "百度推广", "360搜索", "搜狗竞价", "Baidu SEO", "Google Ads", "1688", "阿里巴巴国际站", "慧聪网",
            "58同城", "汽车之家", "安居客", "抖音", "快手", "小红书", "微博", "知乎", "B站", "微信", "企业微信", "QQ",
            "百度贴吧", "行业论坛", "电视广告", "地铁广告", "展会", "企业名录", "工商数据", "400热线", "呼入电话",
            "微信小程序", "APP注册", "官网表单", "老客户转介绍")
SOURCES = ("/web/landing/mba-2027", "/web/form/contact", "/web/landing/insurance-2026q4", "/app/ios", "/app/android",
           "/crm/import/list-2026q4", "/dialer/inbound", "/partner/1688", "/miniprogram/wechat", "/ads/douyin-leadgen")
PRODUCTS: dict[str, tuple[str, ...]] = {
    "education": ("MBA", "在职研究生", "雅思培训", "少儿编程", "考研辅导", "成人高考", "职业资格证"),
    "insurance": ("重疾险", "百万医疗险", "年金险", "车险", "意外险"),
    "wealth": ("基金定投", "理财顾问", "信用贷款", "保险金信托"),
    "real_estate": ("新房", "二手房", "商铺租赁", "公寓"),
    "auto": ("新车试驾", "二手车", "汽车金融", "新能源车"),
    "b2b_saas": ("CRM系统", "企业网盘", "财税软件", "人事SaaS", "视频会议"),
    "healthcare": ("体检套餐", "口腔种植", "医美咨询", "中医理疗"),
}
LINES = tuple(PRODUCTS)
LINE_WEIGHTS = (30, 20, 10, 12, 10, 10, 8)
NOTES = ("晚上七点后方便接电话", "只接受微信沟通", "已在竞品报名，对价格敏感", "周末有空，工作日上午开会", "需要先发资料到邮箱",
         "想了解分期付款", "老客户推荐，请优先联系", "上次通话未接通，客户说下午再打", "询问是否有线下校区",
         "对比了三家，关注售后服务", "预算有限，想要优惠", "客户在外地出差，下周回来", "要求发正式报价单")
KEYWORD_SUFFIXES = ("多少钱", "哪家好", "报名", "费用", "怎么样", "推荐", "官网", "优惠")
CAMPAIGNS = ("2027-spring", "double11-2026", "2026-q4-brand", "summer-2026", "cny-2027", "always-on")
UTM_SOURCES = ("baidu", "douyin", "wechat", "xiaohongshu", "zhihu", "360", "sogou", "kuaishou", "weibo")
UTM_MEDIUMS = ("cpc", "feed", "organic", "referral", "display")
# Prefixes of Chinese mobile ranges, weighted roughly by how common they are.
MOBILE_PREFIXES = ("130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "145", "147", "150", "151",
                   "152", "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180",
                   "181", "182", "183", "184", "185", "186", "187", "188", "189", "191", "198", "199")

# The service's test-number rule (lead_intake.domain.is_test_number), repeated here so the benchmark
# only sends leads that must be qualified.
TEST_NUMBERS = frozenset({"+8613800138000", "+8613800000000", "+8613900000000", "+8613000000000"})
SEQUENCES = "0123456789012345678909876543210"
CN_TZ = timezone(timedelta(hours=8))


def is_test_number(e164: str) -> bool:
    if e164 in TEST_NUMBERS:
        return True
    tail = e164[-8:]
    return len(set(tail)) == 1 or tail in SEQUENCES


def typed_phone(rng: random.Random, national: str) -> str:
    """The number as people type it into forms."""
    a, b, c = national[:3], national[3:7], national[7:]
    style = rng.random()
    if style < 0.40:
        return national
    if style < 0.60:
        return f"{a} {b} {c}"
    if style < 0.72:
        return f"{a}-{b}-{c}"
    if style < 0.84:
        return f"+86 {a} {b} {c}"
    if style < 0.94:
        return f"+86{national}"
    return national.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})  # full-width digits


def parse_e164(typed: str) -> str | None:
    folded = " ".join(unicodedata.normalize("NFKC", typed).split())
    try:
        number = phonenumbers.parse(folded, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not (phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass
class Leads:
    tenant: str
    payloads: list[bytes]
    keys: list[bytes]
    event_ids: list[str]
    phones: list[str]  # E.164 of each lead

    @property
    def n(self) -> int:
        return len(self.payloads)

    @property
    def avg_bytes(self) -> float:
        return sum(map(len, self.payloads)) / max(1, len(self.payloads))


def generate_leads(n: int, seed: int, tenant: str) -> Leads:
    """N distinct valid leads as CloudEvents (the shape of examples/lead-received.json), deterministic
    for a seed: unique mobile numbers (no test numbers), unique emails where present."""
    rng = random.Random(seed)
    base_time = datetime(2026, 11, 24, 9, 0, tzinfo=CN_TZ)
    phones: set[str] = set()
    emails: set[str] = set()
    payloads: list[bytes] = []
    keys: list[bytes] = []
    event_ids: list[str] = []
    e164s: list[str] = []
    while len(payloads) < n:
        national = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"
        typed = typed_phone(rng, national)
        e164 = parse_e164(typed)
        if e164 is None or e164 in phones or is_test_number(e164) or e164 != "+86" + national:
            continue
        phones.add(e164)
        line = rng.choices(LINES, LINE_WEIGHTS)[0]
        data: dict[str, Any] = {}
        if rng.random() < 0.92:
            data["name"] = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
        data["phone"] = typed
        if rng.random() < 0.55:
            while True:
                if rng.random() < 0.35:
                    email = f"{rng.randrange(10_000_000, 3_999_999_999)}@qq.com"
                else:
                    email = (f"{rng.choice(PINYIN)}{rng.choice(PINYIN)}{rng.randrange(1, 10_000)}"
                             f"@{rng.choice(EMAIL_DOMAINS)}")
                if email not in emails:
                    emails.add(email)
                    data["email"] = email
                    break
        if line == "b2b_saas" or rng.random() < 0.45:
            data["company"] = f"{rng.choice(CITIES)}{rng.choice(COMPANY_WORDS)}{rng.choice(INDUSTRIES)}有限公司"
        data["channel"] = rng.choice(CHANNELS)
        data["business_line"] = line
        if rng.random() < 0.85:
            data["product_interest"] = rng.choice(PRODUCTS[line])
        if rng.random() < 0.70:
            data["region"] = rng.choice(REGIONS)
        if rng.random() < 0.55:
            data["notes"] = "，".join(rng.sample(NOTES, rng.choice((1, 1, 2))))
        if rng.random() < 0.75:
            data["behaviour"] = {
                "logins_7d": min(100, int(rng.expovariate(0.4))),
                "page_view_seconds": min(7200, int(rng.expovariate(1 / 180))),
                "unpaid_order": rng.random() < 0.12,
            }
        attributes = {"campaign": rng.choice(CAMPAIGNS), "utm_source": rng.choice(UTM_SOURCES)}
        if rng.random() < 0.7:
            attributes["utm_medium"] = rng.choice(UTM_MEDIUMS)
        if rng.random() < 0.3:
            attributes["agent_code"] = f"A{rng.randrange(1000, 9999)}"
        if rng.random() < 0.45:
            attributes["utm_term"] = rng.choice(PRODUCTS[line]) + rng.choice(KEYWORD_SUFFIXES)
        data["attributes"] = attributes
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        event = {
            "specversion": "1.0",
            "id": event_id,
            "source": rng.choice(SOURCES),
            "type": LEADS_RECEIVED.event_type,
            "time": (base_time + timedelta(seconds=rng.randrange(0, 8 * 3600))).isoformat(),
            "datacontenttype": "application/json",
            "tenantid": tenant,
            "data": data,
        }
        payloads.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode())
        keys.append(e164.encode())
        event_ids.append(event_id)
        e164s.append(e164)
    return Leads(tenant, payloads, keys, event_ids, e164s)


def validate_sample(leads: Leads, count: int = 2000) -> None:
    """The leads must pass the contract, else they would be dead-lettered instead of qualified."""
    for payload in leads.payloads[:count]:
        LEADS_RECEIVED.parse(payload)


# =============================================================================== stack and processes
# =============================================================================== Kafka helpers
async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    return await topic_partitions(consumer, [topic])


# =============================================================================== the service under test
class Service(BenchService):
    """The lead-intake under test: its own database, consumer group and event source."""

    def __init__(self, run: str, port: int, log_path: Path) -> None:
        super().__init__("lead-intake", "lead_intake", "LEAD_INTAKE_", run, port, log_path)


def scrape_metrics(text: str) -> dict[str, Any]:
    """Handler calls, time in handlers and messages of leads.received.v1 from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    topic = LEADS_RECEIVED.name
    out: dict[str, Any] = {"handler_calls": 0.0, "handler_seconds": 0.0, "messages": {}, "outbox_published": {},
                           "handler_buckets": {}, "handler_errors": 0.0, "dead_letters": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "telesales_handler_duration_seconds_count" and labels.get("topic") == topic:
                out["handler_calls"] += sample.value
            elif sample.name == "telesales_handler_duration_seconds_sum" and labels.get("topic") == topic:
                out["handler_seconds"] += sample.value
            elif sample.name == "telesales_handler_duration_seconds_bucket" and labels.get("topic") == topic:
                out["handler_buckets"][labels.get("le")] = sample.value
            elif sample.name == "telesales_messages_consumed_total" and labels.get("topic") == topic:
                out["messages"][labels.get("outcome", "?")] = sample.value
            elif sample.name == "telesales_outbox_published_total":
                out["outbox_published"][labels.get("topic", "?")] = sample.value
            elif sample.name == "telesales_handler_errors_total" and labels.get("topic") == topic:
                out["handler_errors"] += sample.value
            elif sample.name == "telesales_dead_letters_total":
                out["dead_letters"] += sample.value
    calls = out["handler_calls"]
    consumed = sum(out["messages"].values())
    out["avg_batch_size"] = consumed / calls if calls else None
    out["avg_handler_ms"] = 1000 * out["handler_seconds"] / calls if calls else None
    return out


def handler_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The handler's calls, average batch and time per call between two scrapes."""
    calls = after["handler_calls"] - before["handler_calls"]
    seconds = after["handler_seconds"] - before["handler_seconds"]
    messages = sum(after["messages"].values()) - sum(before["messages"].values())
    return {"calls": calls, "avg_batch_size": messages / calls if calls else None,
            "avg_handler_ms": 1000 * seconds / calls if calls else None}


# =============================================================================== reading what the service emits
class OutputReader:
    """Reads the service's output topics from their current end, keeps this run's events only
    (source == the bench service's source and tenantid == the bench tenant) and notes when each lead's
    qualified event was seen."""

    WATCHED = (LEADS_QUALIFIED.name, LEADS_MERGED.name, LEADS_REJECTED.name, DEAD_LETTERS.name)

    def __init__(self, bootstrap: str, source: str, tenant: str, expected: set[str],
                 options: dict[str, Any] | None = None, keep_payloads: bool = False) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **(options or READER_OPTIONS))
        self.keep_payloads = keep_payloads
        self.payloads: dict[str, bytes] = {}  # the qualified events as published (for the write costs)
        self.source = source
        self.tenant = tenant
        self.marker = source.encode()
        self.expected = expected
        self.seen: dict[str, float] = {}
        self.published: dict[str, float] = {}  # Kafka timestamp of the qualified event (epoch seconds)
        self.duplicates = 0
        self.unexpected: Counter[str] = Counter()
        self.samples: list[dict[str, Any]] = []
        self.last_seen = 0.0
        self.records_read = 0
        self.done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stop = False

    async def start(self) -> None:
        await self.consumer.start()
        tps = []
        for topic in self.WATCHED:
            found = await partitions_of(self.consumer, topic)
            if not found:
                raise BenchError(f"topic {topic} does not exist although the service is ready")
            tps += found
        self.consumer.assign(tps)
        # From the end: only what the service publishes from now on (the source filter drops another run's).
        for tp, offset in (await self.consumer.end_offsets(tps)).items():
            self.consumer.seek(tp, offset)
        self._task = asyncio.create_task(self._run(), name="bench-output-reader")

    async def _run(self) -> None:
        while not self._stop:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=20_000)
            now = time.perf_counter()
            for tp, records in batch.items():
                self.records_read += len(records)
                for record in records:
                    value = record.value or b""
                    if self.marker not in value:
                        continue
                    try:
                        event = json.loads(value)
                    except ValueError:
                        continue
                    if event.get("source") != self.source or event.get("tenantid") != self.tenant:
                        continue
                    if tp.topic == LEADS_QUALIFIED.name:
                        event_id = event["data"]["touch"]["event_id"]
                        if event_id in self.seen:
                            self.duplicates += 1
                        elif event_id in self.expected:
                            self.seen[event_id] = now
                            self.published[event_id] = record.timestamp / 1000.0
                            if self.keep_payloads:
                                self.payloads[event_id] = value
                            self.last_seen = now
                        else:
                            self.unexpected[tp.topic] += 1
                    else:
                        self.unexpected[tp.topic] += 1
                        if len(self.samples) < 5:
                            self.samples.append({"topic": tp.topic, "data": event.get("data")})
            if len(self.seen) >= len(self.expected):
                self.done.set()

    def check(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            error = self._task.exception()
            if error is not None:
                raise BenchError(f"the output reader failed: {error!r}") from error

    async def stop(self) -> None:
        self._stop = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, timeout=5)
        await self.consumer.stop()


# =============================================================================== measurements
@dataclass
class Context:
    args: argparse.Namespace
    run: str
    tenant: str
    stack_env: dict[str, str]
    leads: Leads
    out_dir: Path
    mongo: AsyncMongoClient[dict[str, Any]]
    kafka_port: int
    mongo_port: int
    bench_dbs: list[str] = field(default_factory=list)
    raw_topic: str | None = None
    extra_topics: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    intake_db: str = ""  # the database of the lead-intake under test
    memory: Memory | None = None  # RSS of the services, the broker and mongod (telesales_testkit/memory.py)
    qualified_payloads: dict[str, bytes] = field(default_factory=dict)  # the intake's qualified events

    @property
    def bootstrap(self) -> str:
        return self.stack_env["TELESALES_KAFKA_BOOTSTRAP"]


async def measure_intake(ctx: Context) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    leads = ctx.leads
    service = Service(ctx.run, free_port(), ctx.out_dir / f"intake-service-{ctx.run}.log")
    ctx.bench_dbs.append(service.db)
    result: dict[str, Any] = {"service_log": str(service.log_path), "service_db": service.db,
                              "consumer_group": service.group, "event_source": service.source}

    # Start the service's group at the end of leads.received.v1: only this run's leads are processed.
    group = f"{service.group}.{LEADS_RECEIVED.name}"
    qualified_history = sum((await topic_end_offsets(ctx.bootstrap, LEADS_QUALIFIED.name)).values())
    ends = await position_group_at_end(ctx.bootstrap, group, LEADS_RECEIVED.name)
    result["broker_history_before"] = {LEADS_RECEIVED.name: sum(ends.values()), LEADS_QUALIFIED.name: qualified_history}
    if ends:
        note(f"group {group} positioned at the end of {LEADS_RECEIVED.name} "
             f"({sum(ends.values())} older records skipped)")

    others = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid()}, services=OTHER_INTAKE)["other lead-intake"]
    if others and not ctx.args.private_broker:
        await wait_idle(others, "other lead-intake processes", timeout=ctx.args.idle_timeout)
        msg = (f"{len(others)} other lead-intake process(es) run on this machine (pids {others}); any that "
               f"consumes {LEADS_RECEIVED.name} on this broker processes the bench leads too, at the same time")
        ctx.warnings.append(msg)
        note(msg)

    await wait_machine_quiet(ctx.args.idle_timeout)
    service.start(ctx.stack_env)
    profiler: subprocess.Popen[bytes] | None = None
    try:
        async with httpx.AsyncClient() as http:
            ready_s = await service.wait_ready(http)
            note(f"lead-intake ready after {ready_s:.1f}s (pid {service.proc.pid}, port {service.port})")
            result["ready_after_s"] = ready_s
            ctx.memory = watch_memory(ctx, service.proc.pid)
            ctx.memory.take("lead-intake ready (idle)")
            ctx.memory.phase = "intake (all leads queued at once)"

            reader = OutputReader(ctx.bootstrap, service.source, ctx.tenant, set(leads.event_ids),
                                  keep_payloads=True)
            await reader.start()
            producer = AIOKafkaProducer(bootstrap_servers=ctx.bootstrap, **LOAD_PRODUCER_OPTIONS)
            await producer.start()
            pids = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid(), service.proc.pid}, services=OTHER_INTAKE)
            watch = CpuWatch({"lead-intake under test": [service.proc.pid], **pids,
                              "benchmark (producer + reader)": [os.getpid()]})
            if ctx.args.profile:
                profiler = start_profiler(ctx, service.proc.pid)
            try:
                wall_offset = time.time() - time.perf_counter()  # perf_counter -> epoch, for Kafka timestamps
                watch.start()
                produce_task = asyncio.create_task(send_all(producer, LEADS_RECEIVED.name, leads.payloads, leads.keys))
                deadline = time.perf_counter() + ctx.args.timeout
                next_report = time.perf_counter() + PROGRESS_EVERY_S
                produced: Sent | None = None
                while not reader.done.is_set():
                    if produce_task.done() and produced is None:
                        produced = produce_task.result()
                        note(f"all {leads.n:,} leads handed to Kafka in {produced.last_send - produced.first_send:.1f}s")
                    service.check_alive()
                    reader.check()
                    now = time.perf_counter()
                    if now > deadline:
                        raise BenchError(
                            f"only {len(reader.seen):,} of {leads.n:,} leads qualified within {ctx.args.timeout:.0f}s "
                            f"(other events of this run: {dict(reader.unexpected)}; samples: {reader.samples[:3]}); "
                            f"service log {service.log_path}:\n{log_tail(service.log_path, 30)}")
                    if reader.unexpected and not ctx.args.allow_loss:
                        raise BenchError(f"leads were not qualified: {dict(reader.unexpected)}; first: "
                                         f"{json.dumps(reader.samples[:2], ensure_ascii=False)[:1500]}")
                    if now >= next_report:
                        start = produced.first_send if produced else None
                        rate = (f", {len(reader.seen) / (now - start):,.0f}/s so far" if start and reader.seen else "")
                        note(f"qualified {len(reader.seen):,}/{leads.n:,}{rate}")
                        next_report = now + PROGRESS_EVERY_S
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(reader.done.wait(), timeout=0.5)
                cpu = watch.stop()
                if produced is None:
                    produced = await produce_task
            finally:
                if profiler is not None:
                    stop_profiler(profiler)
                await producer.stop()
                await reader.stop()

            elapsed = reader.last_seen - produced.first_send
            latencies = [reader.seen[eid] - sent for eid, sent in zip(leads.event_ids, produced.send_times, strict=True)]
            # Cross-check independent of the reader's fetch cadence: the qualified events' own timestamps
            # (set by the relay's producer when it sent them; same machine, same clock).
            published = [reader.published[eid] - (sent + wall_offset)
                         for eid, sent in zip(leads.event_ids, produced.send_times, strict=True)]
            by_timestamp: dict[str, Any] | None = None
            if published and min(published) > -0.05:
                last_published = max(reader.published.values())
                by_timestamp = {"throughput_per_s": leads.n / (last_published - (produced.first_send + wall_offset)),
                                "latency": latency_summary(published)}
            else:
                ctx.warnings.append("qualified events carry no usable Kafka timestamps; no cross-check")
            result.update({
                "by_kafka_timestamp": by_timestamp,
                "throughput_per_s": leads.n / elapsed,
                "elapsed_s": elapsed,
                "produce_s": produced.last_send - produced.first_send,
                "latency": latency_summary(latencies),
                "qualified": len(reader.seen),
                "duplicate_qualified_events": reader.duplicates,
                "output_records_read": reader.records_read,
                "cpu": cpu,
            })
            if reader.duplicates:
                ctx.warnings.append(f"{reader.duplicates} qualified events arrived twice (outbox redelivery)")

            ctx.memory.phase = None
            ctx.qualified_payloads = reader.payloads
            metrics_text = (await http.get(f"{service.base_url}/metrics", timeout=10)).text
            result["metrics"] = scrape_metrics(metrics_text)
            if ctx.args.schedule_seconds > 0:
                result["fixed_schedule"] = await measure_fixed_schedule(ctx, service, http, result)

        # Every lead stored, once.
        leads_coll = ctx.mongo[service.db]["leads"]
        stored = await leads_coll.count_documents({"tenant_id": ctx.tenant})
        distinct_phones = len(await leads_coll.distinct("phone_e164", {"tenant_id": ctx.tenant}))
        all_docs = await leads_coll.estimated_document_count()
        result.update({"stored": stored, "stored_distinct_phones": distinct_phones})
        if stored != leads.n or distinct_phones != leads.n:
            raise BenchError(f"{service.db}.leads holds {stored:,} leads ({distinct_phones:,} phones) of tenant "
                             f"{ctx.tenant}, expected {leads.n:,}")
        all_docs -= (result.get("fixed_schedule") or {}).get("stored", 0)
        if all_docs != stored:
            ctx.warnings.append(f"the service also stored {all_docs - stored:,} leads of other tenants "
                                f"(older records of {LEADS_RECEIVED.name} it was not positioned past)")
        docs = await leads_coll.find({"tenant_id": ctx.tenant}).to_list()
    finally:
        code = service.stop()
        if profiler is not None and profiler.poll() is None:
            profiler.kill()
    result["service_exit_code"] = code
    # uvicorn shuts down gracefully on SIGTERM and then re-raises it: -15 is a clean stop.
    if code not in (0, None, -signal.SIGTERM):
        ctx.warnings.append(f"lead-intake exited with {code} on SIGTERM; log {service.log_path}")
        note(f"lead-intake exited with {code}; log tail:\n{log_tail(service.log_path, 20)}")
    return result, docs


def start_profiler(ctx: Context, pid: int) -> subprocess.Popen[bytes] | None:
    py_spy = ctx.args.py_spy or shutil.which("py-spy")
    if not py_spy:
        ctx.warnings.append("--profile: py-spy not found (give --py-spy PATH); not profiled")
        return None
    out = ctx.out_dir / f"intake-profile-{ctx.run}.txt"
    note(f"profiling pid {pid} with py-spy into {out} (collapsed stacks; numbers of a profiled run are not comparable)")
    ctx.warnings.append(f"profiled run (py-spy sampling the service): {out}")
    return subprocess.Popen([py_spy, "record", "--pid", str(pid), "--rate", str(ctx.args.profile_rate),
                             "--format", "raw", "--output", str(out), "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=open(ctx.out_dir / f"py-spy-{ctx.run}.log", "wb"))  # noqa: SIM115


def stop_profiler(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def watch_memory(ctx: Context, service_pid: int) -> Memory:
    """RSS of the lead-intake under test, the broker and mongod, sampled from its readiness on."""
    pids = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid(), service_pid})
    return Memory({"lead-intake": service_pid, **{label: found[0] for label, found in pids.items() if found}})


async def measure_fixed_schedule(ctx: Context, service: Service, http: httpx.AsyncClient,
                                 intake: dict[str, Any]) -> dict[str, Any]:
    """Leads of a second tenant published on a fixed schedule at half of the saturation the `intake` phase just
    measured, to the same warm service: received -> qualified per lead, p50/p99 (intake_schedule.py); the
    handler's calls during it."""
    saturation = intake["throughput_per_s"]
    rate = ctx.args.schedule_rate or saturation / 2
    count = max(1, round(rate * ctx.args.schedule_seconds))
    tenant = f"{ctx.tenant}-schedule"
    taken = set(ctx.leads.phones)
    made = generate_leads(count + 100, ctx.args.seed + 1, tenant)
    keep = [i for i, phone in enumerate(made.phones) if phone not in taken][:count]
    leads = Leads(tenant, *([getattr(made, name)[i] for i in keep]
                            for name in ("payloads", "keys", "event_ids", "phones")))
    say(f"    fixed schedule: {leads.n:,} leads of tenant {tenant} at {rate:,.0f}/s (half of {saturation:,.0f}/s) ...")
    reader = OutputReader(ctx.bootstrap, service.source, tenant, set(leads.event_ids), options=LATENCY_READER_OPTIONS)
    await reader.start()
    producer = AIOKafkaProducer(bootstrap_servers=ctx.bootstrap, **SCHEDULE_PRODUCER_OPTIONS)
    await producer.start()
    pids = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid(), service.proc.pid}, services=OTHER_INTAKE)
    watch = CpuWatch({"lead-intake under test": [service.proc.pid], **pids, "benchmark (producer + reader)": [os.getpid()]})
    assert ctx.memory is not None
    ctx.memory.phase = "fixed schedule (half of saturation)"
    try:
        wall_offset = time.time() - time.perf_counter()
        watch.start()
        sent = await send_on_schedule(producer, LEADS_RECEIVED.name, leads.payloads, leads.keys, rate)
        deadline = time.perf_counter() + ctx.args.timeout
        while not reader.done.is_set():
            service.check_alive()
            reader.check()
            if reader.unexpected:
                raise BenchError(f"fixed schedule: leads were not qualified: {dict(reader.unexpected)}; "
                                 f"first: {json.dumps(reader.samples[:2], ensure_ascii=False)[:1500]}")
            if time.perf_counter() > deadline:
                raise BenchError(f"fixed schedule: only {len(reader.seen):,} of {leads.n:,} leads qualified")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader.done.wait(), timeout=0.5)
        cpu = watch.stop()
    finally:
        ctx.memory.phase = None
        await producer.stop()
        await reader.stop()
    stored = await ctx.mongo[service.db]["leads"].count_documents({"tenant_id": tenant})
    if stored != leads.n:
        raise BenchError(f"fixed schedule: {service.db}.leads holds {stored:,} leads of {tenant}, expected {leads.n:,}")
    pairs = list(zip(leads.event_ids, sent.send_times, strict=True))
    latency = latency_summary([reader.seen[eid] - at for eid, at in pairs])
    by_timestamp = latency_summary([reader.published[eid] - (at + wall_offset) for eid, at in pairs])
    return {"tenant": tenant, "leads": leads.n, "rate_per_s": rate, "saturation_per_s": saturation,
            "seconds": sent.last_send - sent.first_send, "sender_late_p99_ms": sent.late_p99_ms,
            "sender_late_max_ms": sent.late_max_ms, "latency": latency, "latency_by_kafka_timestamp": by_timestamp,
            "stored": stored, "duplicate_qualified_events": reader.duplicates, "cpu": cpu,
            "target_p99_ms": TARGET_SCHEDULE_P99_MS, "target_met": latency["p99_ms"] <= TARGET_SCHEDULE_P99_MS,
            "handler": handler_delta(intake["metrics"], scrape_metrics(
                (await http.get(f"{service.base_url}/metrics", timeout=10)).text))}


async def measure_kafka_ceiling(ctx: Context) -> dict[str, Any]:
    """Ceiling (a): the same payloads, produce -> consume, no processing, on a fresh topic."""
    leads = ctx.leads
    topic = f"bench.raw-{ctx.run}.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, RAW_PARTITIONS, 1)])
    finally:
        await admin.close()
    ctx.raw_topic = topic

    consumer = AIOKafkaConsumer(bootstrap_servers=ctx.bootstrap, **CONSUMER_OPTIONS)
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=ctx.bootstrap, **LOAD_PRODUCER_OPTIONS)
    await producer.start()
    seen: list[tuple[int, int, float]] = []
    done = asyncio.Event()

    async def consume() -> None:
        while len(seen) < leads.n:
            batch = await consumer.getmany(timeout_ms=100, max_records=20_000)
            now = time.perf_counter()
            for tp, records in batch.items():
                seen.extend((tp.partition, r.offset, now) for r in records)
        done.set()

    try:
        tps = []
        for _ in range(50):
            tps = await partitions_of(consumer, topic)
            if len(tps) == RAW_PARTITIONS:
                break
            await asyncio.sleep(0.1)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        pids = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid()}, services=OTHER_INTAKE)
        watch = CpuWatch({**pids, "benchmark (producer + consumer)": [os.getpid()]}).start()
        consume_task = asyncio.create_task(consume())
        produced = await send_all(producer, topic, leads.payloads, leads.keys)
        try:
            await asyncio.wait_for(done.wait(), timeout=ctx.args.timeout)
        except TimeoutError:
            raise BenchError(f"ceiling (a): only {len(seen):,} of {leads.n:,} messages came back within "
                             f"{ctx.args.timeout:.0f}s") from None
        cpu = watch.stop()
        await consume_task
    finally:
        await producer.stop()
        await consumer.stop()

    if len({(p, o) for p, o, _ in seen}) != leads.n:
        raise BenchError(f"ceiling (a): {len(seen)} records read, not {leads.n} distinct ones")
    sent_at = {(m.partition, m.offset): t for m, t in zip(produced.metadata, produced.send_times, strict=True)}
    latencies = [t - sent_at[(p, o)] for p, o, t in seen]
    last = max(t for _, _, t in seen)
    elapsed = last - produced.first_send
    return {"topic": topic, "partitions": RAW_PARTITIONS, "throughput_per_s": leads.n / elapsed, "elapsed_s": elapsed,
            "produce_s": produced.last_send - produced.first_send, "latency": latency_summary(latencies), "cpu": cpu}


async def measure_mongo_ceiling(ctx: Context, docs: list[dict[str, Any]]) -> dict[str, Any]:
    """Ceiling (b): bulk upserts of the same lead documents, 1000 per batch, unordered, into a fresh
    collection with the service's unique (tenant_id, phone_e164) index."""
    db_name = f"bench_ceiling_{ctx.run}"
    ctx.bench_dbs.append(db_name)
    coll = ctx.mongo[db_name]["leads"]
    await coll.create_indexes([
        IndexModel([("tenant_id", ASCENDING), ("phone_e164", ASCENDING)], unique=True, name="one_lead_per_phone",
                   partialFilterExpression={"phone_e164": {"$type": "string"}}),
    ])
    batches: list[list[UpdateOne]] = []
    for start in range(0, len(docs), BULK_BATCH):
        ops = []
        for doc in docs[start:start + BULK_BATCH]:
            body = {k: v for k, v in doc.items() if k != "_id"}
            # `$type: string` lets the planner use the partial unique index (MongoDB only picks a partial
            # index when the query implies its filter; a bare equality does not, and every upsert would
            # scan the collection).
            ops.append(UpdateOne({"tenant_id": doc["tenant_id"], "phone_e164": {"$eq": doc["phone_e164"], "$type": "string"}},
                                 {"$set": body, "$setOnInsert": {"_id": doc["_id"]}}, upsert=True))
        batches.append(ops)
    index_used = await upsert_index(ctx.mongo[db_name], batches[0][0] if batches else None)
    pids = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid()}, services=OTHER_INTAKE)
    watch = CpuWatch({**pids, "benchmark (bulk writer)": [os.getpid()]}).start()
    upserted = 0
    t0 = time.perf_counter()
    for ops in batches:
        result = await coll.bulk_write(ops, ordered=False)
        upserted += result.upserted_count + result.modified_count
    elapsed = time.perf_counter() - t0
    cpu = watch.stop()
    count = await coll.count_documents({})
    if upserted != len(docs) or count != len(docs):
        raise BenchError(f"ceiling (b): {upserted} upserts, {count} documents, expected {len(docs)}")
    avg_doc = sum(len(_bson_encode(d)) for d in docs[:2000]) / max(1, min(2000, len(docs)))
    return {"db": db_name, "batch_size": BULK_BATCH, "throughput_per_s": len(docs) / elapsed, "elapsed_s": elapsed,
            "avg_doc_bytes": avg_doc, "index_used": index_used, "cpu": cpu}


async def upsert_index(db: Any, op: UpdateOne | None) -> str:
    """The index the upserts' filter is answered with (explain of one upsert)."""
    if op is None:
        return "?"
    spec = op._filter  # noqa: SLF001 - the filter of the prepared operation
    plan = (await db.command("explain", {"update": "leads", "updates": [{"q": spec, "u": {"$set": {}}, "upsert": True}]},
                             verbosity="queryPlanner"))["queryPlanner"]["winningPlan"]
    names = []
    while plan:
        if "indexName" in plan:
            names.append(plan["indexName"])
        if plan.get("stage") == "COLLSCAN":
            names.append("COLLSCAN")
        plan = plan.get("inputStage")
    return ",".join(names) or "?"


def _bson_encode(doc: dict[str, Any]) -> bytes:
    import bson

    return bson.encode(doc)


# =============================================================================== cleanup
async def remove_tenant_elsewhere(ctx: Context) -> dict[str, int]:
    """Another lead-intake on the same topic (e.g. one from `make up`) stored the bench tenant's
    leads in its own database: delete that tenant's documents there (the tenant exists only for this run)."""
    removed: dict[str, int] = {}
    skip = {"admin", "local", "config", *ctx.bench_dbs}
    for name in await ctx.mongo.list_database_names():
        if name in skip:
            continue
        db = ctx.mongo[name]
        collections = set(await db.list_collection_names())
        if "leads" not in collections or not await db["leads"].find_one({"tenant_id": ctx.tenant}, {"_id": 1}):
            continue
        for coll in ("leads", "inbox", "outbox"):
            if coll in collections:
                deleted = (await db[coll].delete_many({"tenant_id": ctx.tenant})).deleted_count
                if deleted:
                    removed[f"{name}.{coll}"] = deleted
    return removed


async def cleanup(ctx: Context) -> None:
    topics = [*([ctx.raw_topic] if ctx.raw_topic else []), *ctx.extra_topics]
    if topics:
        admin = AIOKafkaAdminClient(bootstrap_servers=ctx.bootstrap)
        try:
            await admin.start()
            await admin.delete_topics(topics)
        except Exception as error:  # noqa: BLE001 - cleanup goes on
            note(f"could not delete topics {topics}: {error!r}")
        finally:
            with contextlib.suppress(Exception):
                await admin.close()
    if ctx.args.keep:
        note(f"--keep: databases left in place: {', '.join(ctx.bench_dbs)}")
        return
    for name in ctx.bench_dbs:
        try:
            await ctx.mongo.drop_database(name)
        except Exception as error:  # noqa: BLE001
            note(f"could not drop database {name}: {error!r}")
    try:
        others = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid()}, services=OTHER_INTAKE)["other lead-intake"]
        if others and not ctx.args.private_broker:
            await wait_idle(others, "other lead-intake processes", timeout=ctx.args.idle_timeout)
        removed = await remove_tenant_elsewhere(ctx)
        if removed:
            note(f"removed the bench tenant {ctx.tenant} that other lead-intake instances stored: {removed}")
    except Exception as error:  # noqa: BLE001
        note(f"could not remove the bench tenant from other databases: {error!r}")


# =============================================================================== report
def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def render(report: dict[str, Any]) -> str:
    intake, raw, mongo = report["intake"], report["ceiling_kafka"], report["ceiling_mongo"]
    ceiling = report["ceiling"]
    lat = intake["latency"]
    w = 58
    lines = [
        f"lead-intake benchmark  run {report['run']}  {report['date']}  {report['cpu_count']} CPUs",
        f"N = {report['leads']:,} leads, avg {report['avg_message_bytes']:.0f} B/message "
        f"(examples/lead-received.json: {report['example_message_bytes']} B), tenant {report['tenant']}",
        f"broker: {report['broker']} at {report['kafka']}; records already on it: "
        + ", ".join(f"{t} {n:,}" for t, n in intake.get("broker_history_before", {}).items()),
        "-" * 86,
        f"{'ceiling (a) Kafka produce -> consume, no processing':<{w}} {fmt_rate(raw['throughput_per_s']):>10} msgs/s",
        f"{'ceiling (b) MongoDB bulk upserts (1000/batch, unordered)':<{w}} {fmt_rate(mongo['throughput_per_s']):>10} docs/s",
        f"{'ceiling = min(a, b)':<{w}} {fmt_rate(ceiling['throughput_per_s']):>10} /s      ({ceiling['limited_by']})",
        f"{'intake: received -> qualified, every lead stored':<{w}} {fmt_rate(intake['throughput_per_s']):>10} leads/s",
        f"{'ratio intake / ceiling':<{w}} {100 * report['ratio']:>10.1f} %      "
        f"target >= {100 * TARGET_RATIO:.0f} %: {'met' if report['target_met'] else 'TARGET MISSED'}",
        f"{'plain pipeline (batch subscriber, pydantic, upsert, publish)':<{w}} "
        f"{fmt_rate(report['plain_pipeline']['throughput_per_s']):>10} leads/s",
        f"{'ratio intake / plain pipeline':<{w}} {100 * report['ratio_plain']:>10.1f} %      "
        f"target >= {100 * TARGET_PLAIN_RATIO:.0f} %: {'met' if report['target_plain_met'] else 'TARGET MISSED'}",
        f"{'ceiling (c) MongoDB bulk upserts of fixed 1 KB documents':<{w}} "
        f"{fmt_rate(report['ceiling_fixed']['throughput_per_s']):>10} docs/s",
        f"{'ratio intake / ceiling (c)':<{w}} {100 * report['ratio_fixed']:>10.1f} %      "
        f"target >= {100 * TARGET_RATIO:.0f} %: {'met' if report['target_fixed_met'] else 'TARGET MISSED'}",
        f"{'intake latency received -> qualified (ms)':<{w}} p50 {lat['p50_ms']:,.0f}   p99 {lat['p99_ms']:,.0f}   "
        f"max {lat['max_ms']:,.0f}",
        *([f"{'   (same, by the qualified events Kafka timestamps)':<{w}} "
            f"p50 {ts['latency']['p50_ms']:,.0f}   p99 {ts['latency']['p99_ms']:,.0f}   "
            f"max {ts['latency']['max_ms']:,.0f}   ({fmt_rate(ts['throughput_per_s'])} leads/s)"]
          if (ts := intake.get("by_kafka_timestamp")) else []),
        f"{'   (ceiling (a) latency, ms)':<{w}} p50 {raw['latency']['p50_ms']:,.0f}   "
        f"p99 {raw['latency']['p99_ms']:,.0f}   max {raw['latency']['max_ms']:,.0f}",
        f"{'wall time: intake / ceiling (a) / ceiling (b)':<{w}} {intake['elapsed_s']:.1f} s / {raw['elapsed_s']:.1f} s / "
        f"{mongo['elapsed_s']:.1f} s",
        f"{'   (ceiling (b): avg document, index of the upserts)':<{w}} {mongo['avg_doc_bytes']:,.0f} B BSON, "
        f"{mongo['index_used']}",
        "-" * 86,
        "where the intake's time went (CPU during the intake run, % of one core; "
        f"{report['cpu_count']} cores = {100 * report['cpu_count']}%):",
    ]
    cpu = intake["cpu"]
    for label, pct in cpu["pct_of_one_core"].items():
        lines.append(f"   {label:<40} {pct:>6.0f} %   ({cpu['cpu_s'][label]:.1f} CPU s)")
    lines.append(f"   {'machine busy':<40} {cpu['machine_busy_pct']:>6.0f} % of all cores")
    m = intake.get("metrics") or {}
    if m.get("handler_calls"):
        busy = 100 * m["handler_seconds"] / intake["elapsed_s"]
        lines.append(f"   handler calls {m['handler_calls']:,.0f}, avg batch {m['avg_batch_size']:,.1f} leads, "
                     f"avg {m['avg_handler_ms']:,.1f} ms/batch, handler busy {busy:.0f} % of the wall time")
    lines += render_schedule(intake.get("fixed_schedule"))
    lines += render_costs(report.get("write_costs"))
    if report.get("memory"):
        lines += ["-" * 86, "memory (RSS, MiB): at readiness and the peak of each phase", *memory_table(report["memory"])]
    if report["plain_pipeline"].get("memory"):
        lines += memory_table(report["plain_pipeline"]["memory"])
    for text in report["warnings"]:
        lines.append(f"note: {text}")
    return "\n".join(lines)


def render_schedule(fixed: dict[str, Any] | None) -> list[str]:
    if not fixed:
        return []
    lat, ts, w = fixed["latency"], fixed["latency_by_kafka_timestamp"], 58
    return [
        "-" * 86,
        f"fixed schedule: {fixed['leads']:,} leads at {fixed['rate_per_s']:,.0f}/s (half of {fixed['saturation_per_s']:,.0f}/s) "
        f"over {fixed['seconds']:.1f} s; sender late p99 {fixed['sender_late_p99_ms']:.1f} ms",
        f"{'received -> qualified seen (ms)':<{w}} p50 {lat['p50_ms']:,.1f}   p99 {lat['p99_ms']:,.1f}   "
        f"max {lat['max_ms']:,.1f}   target p99 <= {fixed['target_p99_ms']:.0f} ms: "
        f"{'met' if fixed['target_met'] else 'TARGET MISSED'}",
        f"{'   (to the qualified events Kafka timestamps)':<{w}} p50 {ts['p50_ms']:,.1f}   p99 {ts['p99_ms']:,.1f}   "
        f"max {ts['max_ms']:,.1f}",
        f"{'   CPU of lead-intake during it':<{w}} {fixed['cpu']['pct_of_one_core'].get('lead-intake under test', 0):.0f} % "
        f"of a core; machine {fixed['cpu']['machine_busy_pct']:.0f} % busy",
        *([f"{'   handler calls, avg batch, avg time per call':<{w}} {h['calls']:,.0f}, {h['avg_batch_size']:,.1f} leads, "
           f"{h['avg_handler_ms']:,.1f} ms"] if (h := fixed.get("handler")) and h["calls"] else []),
    ]


# =============================================================================== main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000, help="how many leads (default 100000)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results (default bench-results/intake.json)")
    parser.add_argument("--keep", action="store_true", help="do not drop the bench databases")
    parser.add_argument("--seed", type=int, default=20261124, help="seed of the generated leads")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for all leads to be qualified (default 600)")
    parser.add_argument("--idle-timeout", type=float, default=300.0,
                        help="seconds to wait for other lead-intake processes to go idle (default 300)")
    parser.add_argument("--profile", action="store_true",
                        help="sample the service with py-spy during the intake run (numbers then not comparable)")
    parser.add_argument("--py-spy", default=None, help="path to py-spy (default: from PATH)")
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples per second (default 100)")
    parser.add_argument("--stack-broker", dest="private_broker", action="store_false",
                        help="use the local stack's broker instead of a fresh Apache Kafka node for this run "
                             "(its history slows reads, and a `make up` lead-intake would process the leads too)")
    parser.add_argument("--schedule-seconds", type=float, default=20.0,
                        help="length of the fixed-schedule phase at half of saturation (default 20; 0: skip it)")
    parser.add_argument("--schedule-rate", type=float, default=0.0,
                        help="leads/s of the fixed-schedule phase (default: half of the intake's throughput)")
    parser.add_argument("--cost-docs", type=int, default=10_000,
                        help="documents per write-cost measurement (default 10000, at most --leads)")
    parser.add_argument("--cost-repeats", type=int, default=3, help="tries of each write cost, best kept (default 3)")
    parser.add_argument("--allow-loss", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.leads < 1:
        parser.error("--leads must be at least 1")
    if args.cost_docs < 1 or args.cost_repeats < 1:
        parser.error("--cost-docs and --cost-repeats must be at least 1")
    if args.schedule_seconds < 0 or args.schedule_rate < 0:
        parser.error("--schedule-seconds and --schedule-rate must not be negative")
    return args


async def amain(args: argparse.Namespace) -> int:
    return await bench_run("lead-intake", args.out, args.private_broker, f"{args.leads:,} leads",
                           lambda run, out_path, stack_env: _amain(args, run, f"bench-{run}", out_path,
                                                                    out_path.parent, stack_env))


async def _amain(args: argparse.Namespace, run: str, tenant: str, out_path: Path, out_dir: Path,
                 stack_env: dict[str, str]) -> int:
    bootstrap = stack_env["TELESALES_KAFKA_BOOTSTRAP"]
    mongo_uri = stack_env["TELESALES_MONGO_URI"]
    kafka_port = int(bootstrap.rsplit(":", 1)[1])
    mongo_port = int(re.search(r":(\d+)/", mongo_uri).group(1))  # type: ignore[union-attr]

    t0 = time.perf_counter()
    leads = generate_leads(args.leads, args.seed, tenant)
    validate_sample(leads)
    example_bytes = len(json.dumps(json.loads(EXAMPLE.read_text(encoding="utf-8")), ensure_ascii=False,
                                   separators=(",", ":")).encode())
    note(f"generated {leads.n:,} leads in {time.perf_counter() - t0:.1f}s, avg {leads.avg_bytes:.0f} B "
         f"(example lead {example_bytes} B)")

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri, tz_aware=True, appname="bench-intake",
                                                               serverSelectionTimeoutMS=10_000)
    ctx = Context(args, run, tenant, stack_env, leads, out_dir, mongo, kafka_port, mongo_port)
    try:
        say("1/6 intake: leads.received.v1 -> lead-intake -> leads.qualified.v1 + MongoDB ...")
        intake, docs = await measure_intake(ctx)
        ctx.intake_db = intake["service_db"]
        say(f"    {intake['throughput_per_s']:,.0f} leads/s, all {leads.n:,} qualified and stored")

        others = find_pids(kafka_port, mongo_port, exclude={os.getpid()}, services=OTHER_INTAKE)["other lead-intake"]
        if others and not args.private_broker:  # one may still work through the same leads: do not overlap
            await wait_idle(others, "other lead-intake processes", timeout=args.idle_timeout)

        await wait_machine_quiet(args.idle_timeout)
        say("2/6 ceiling (a): aiokafka produce -> consume, same payloads, no processing ...")
        raw = await measure_kafka_ceiling(ctx)
        say(f"    {raw['throughput_per_s']:,.0f} msgs/s")

        await wait_machine_quiet(args.idle_timeout)
        say("3/6 ceiling (b): MongoDB bulk upserts of the same lead documents ...")
        mongo_ceiling = await measure_mongo_ceiling(ctx, docs)
        cost_docs = docs[:args.cost_docs]
        del docs
        say(f"    {mongo_ceiling['throughput_per_s']:,.0f} docs/s")

        await wait_machine_quiet(args.idle_timeout)
        say("4/6 plain pipeline: FastStream batch subscriber, pydantic, phonenumbers, bulk upsert, batch publish ...")
        partitions = len(await topic_end_offsets(bootstrap, LEADS_RECEIVED.name))
        plain = await measure_plain_pipeline(ctx, partitions)
        say(f"    {plain['throughput_per_s']:,.0f} leads/s")

        await wait_machine_quiet(args.idle_timeout)
        say("5/6 ceiling (c): MongoDB bulk upserts of fixed 1 KB documents ...")
        fixed = await measure_fixed_ceiling(ctx, leads.phones)
        say(f"    {fixed['throughput_per_s']:,.0f} docs/s")

        await wait_machine_quiet(args.idle_timeout)
        say("6/6 what each lead document, index, inbox and outbox write costs ...")
        costs = await measure_write_costs(ctx, cost_docs, min(args.cost_docs, leads.n), args.cost_repeats)
        del cost_docs
    except BenchError as error:
        say(f"\nBENCHMARK FAILED: {error}")
        return 1
    finally:
        if ctx.memory is not None:
            await ctx.memory.close()
        await cleanup(ctx)
        await mongo.close()

    for phase, figures in (("intake", intake), *((("fixed schedule", intake["fixed_schedule"]),)
                                                  if intake.get("fixed_schedule") else ()), ("ceiling (a)", raw), ("ceiling (b)", mongo_ceiling),
                           ("plain pipeline", plain), ("ceiling (c)", fixed)):
        disturbed = {label: pct for label, pct in figures["cpu"]["pct_of_one_core"].items()
                     if label in ("everything else on the machine", "other lead-intake") and pct > DISTURBED_PCT}
        for label, pct in disturbed.items():
            ctx.warnings.append(f"DISTURBED: during {phase}, {label} used {pct:.0f} % of a core "
                                f"(over {DISTURBED_PCT:.0f} %): this run's figures are not clean")
    ceiling_value = min(raw["throughput_per_s"], mongo_ceiling["throughput_per_s"])
    limited_by = "Kafka, (a)" if raw["throughput_per_s"] <= mongo_ceiling["throughput_per_s"] else "MongoDB, (b)"
    ratio = intake["throughput_per_s"] / ceiling_value
    ratio_plain = intake["throughput_per_s"] / plain["throughput_per_s"]
    ratio_fixed = intake["throughput_per_s"] / fixed["throughput_per_s"]
    report = {
        "run": run,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "git": git_state(),
        "leads": leads.n,
        "seed": args.seed,
        "tenant": tenant,
        "avg_message_bytes": leads.avg_bytes,
        "example_message_bytes": example_bytes,
        "producer_options": LOAD_PRODUCER_OPTIONS,
        "kafka": bootstrap,
        "broker": "private (a fresh Apache Kafka node)" if args.private_broker else "the local stack's",
        "mongo": mongo_uri,
        "intake": intake,
        "ceiling_kafka": raw,
        "ceiling_mongo": mongo_ceiling,
        "ceiling": {"throughput_per_s": ceiling_value, "limited_by": limited_by},
        "ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio >= TARGET_RATIO,
        "plain_pipeline": plain,
        "ceiling_fixed": fixed,
        "ratio_plain": ratio_plain,
        "target_plain_met": ratio_plain >= TARGET_PLAIN_RATIO,
        "ratio_fixed": ratio_fixed,
        "target_fixed_met": ratio_fixed >= TARGET_RATIO,
        "write_costs": costs,
        "memory": ctx.memory.points if ctx.memory is not None else {},
        "warnings": ctx.warnings,
    }
    fixed_schedule = intake.get("fixed_schedule")
    if fixed_schedule:
        report["target_schedule_met"] = fixed_schedule["target_met"]
    publish_report(out_path, report, render(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: amain(args))


if __name__ == "__main__":
    sys.exit(main())
