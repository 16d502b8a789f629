"""The plan of a call-center day, as pure functions of a seed (no I/O, no clock): the floor (teams of
agents in grades A-E), the leads outside systems send (with junk, repeats and redeliveries), what each
customer will do when called, the tips top agents write, and who buys, learns, rates and forwards them.

The same seed, size and day give exactly the same plan; the simulator (demo.py) plays it against the
platform and draws every later decision from `rng(seed, ...)` keyed by what it decides about, never by
the order in which answers come back. Parameters follow the seeds in shared/seeds: a floor works 08:30
to 18:00 with a lunch break, about 40 % of dials connect, a call of 60 s or more is an effective
conversation (有效沟通) and 180 s a deep one, the lead funnel narrows valid contact -> intent -> agreed
visit -> visit -> plan -> paid, agents claim (捞取) by grade within caps, leads left unworked are
reclaimed (未处理回收 / 未转化回收), and the tips marketplace is paid in 学呗 coins.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FLOOR_TZ = ZoneInfo("Asia/Shanghai")
SHIFT_START = time(8, 30)
SHIFT_END = time(18, 0)
LUNCH = (time(12, 0), time(13, 30))
TICK_MINUTES = 5  # the simulated clock advances in steps of this many minutes
ACT_EVERY = 3  # an agent works its desk every this many ticks (15 simulated minutes)
BUSINESS_LINE = "education"
GRADES = ("A", "B", "C", "D", "E")
GRADE_SHARE = {"A": 0.10, "B": 0.20, "C": 0.40, "D": 0.20, "E": 0.10}

# per grade: leads an agent wants to hold, leads per claim, share of claimed leads it ever calls, dials per
# desk session, how well it moves a conversation on
HOLD_TARGET = {"A": 30, "B": 24, "C": 18, "D": 14, "E": 10}
CLAIM_SIZE = {"A": 10, "B": 8, "C": 6, "D": 5, "E": 4}
DILIGENCE = {"A": 0.97, "B": 0.93, "C": 0.88, "D": 0.80, "E": 0.70}
DIALS = {"A": 6, "B": 5, "C": 4, "D": 4, "E": 3}
SKILL = {"A": 1.35, "B": 1.15, "C": 1.0, "D": 0.85, "E": 0.7}
# the allocator's policy for the run's tenant: holding cap and daily refresh quota per grade
HOLDING_CAP = {"A": 60, "B": 50, "C": 40, "D": 30, "E": 20}
REFRESH_QUOTA = {"A": 80, "B": 60, "C": 45, "D": 35, "E": 25}

# the lead funnel (metrics' FunnelStep names) and the development stage (%) an agent sets at each step
STEPS = ("valid", "intent", "agreed_visit", "actual_visit", "plan", "paid")
STAGE_PERCENT = {"valid": 10, "intent": 25, "agreed_visit": 40, "actual_visit": 55, "plan": 70, "paid": 100}
# how far a customer can be taken at most: none (wrong person, no interest), or up to a step
REACH_WEIGHTS = {None: 0.30, "valid": 0.30, "intent": 0.18, "agreed_visit": 0.09, "actual_visit": 0.05,
                 "plan": 0.04, "paid": 0.04}

PRODUCTS = {"MBA": (3_800_000, 9_800_000), "考研": (680_000, 1_980_000), "自考本科": (580_000, 1_280_000),
            "成人高考": (480_000, 980_000), "教师资格证": (298_000, 698_000), "雅思": (880_000, 2_280_000)}
CHANNELS = ("百度SEM", "抖音", "微信", "官网表单", "知乎", "展会", "名录", "400电话", "App")
REGIONS = ("北京", "上海", "广东广州", "广东深圳", "浙江杭州", "四川成都", "湖北武汉", "吉林长春", "江苏南京",
           "山东济南")
MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158",
                   "159", "186", "187", "188", "189")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐"
GIVEN = ("伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
         "霞", "平", "刚", "桂英", "晨", "宇", "欣怡", "子轩", "浩然", "思远")
COMPANIES = ("某某科技有限公司", "某某教育咨询", "某某贸易公司", "某某制造厂", "某某医院", "某某银行支行")

# junk an outside system sends, and the reason lead-intake gives it (services/lead-intake/README.md)
JUNK_KINDS = ("test_number", "repeated_digits", "impossible_number", "no_contact", "invalid_email")

TIPS = (  # (title, summary, body, stage, tags)
    ("开场白三十秒留住客户", "先报机构再给利益点", "您好，我是XX教育的顾问。看到您关注了在职MBA，今天给您带来一个免联考的新政策……",
     "opening", ["开场白", "MBA"]),
    ("客户嫌贵怎么办", "价格异议三步", "先认同，再拆分到每天，最后对比不学的代价。", "objection_handling", ["价格异议"]),
    ("报价前先问三个问题", "把价格放到需求后面", "学历要求、时间安排、预算区间，问清再报价。", "quoting", ["报价"]),
    ("试听课邀约话术", "把到访变成顺理成章", "给两个时间让客户二选一，发地图和课表。", "service_introduction", ["邀约", "到访"]),
    ("逼单不逼人", "促成的五个信号", "客户开始问付款方式和开班时间时，直接给报名链接。", "closing", ["促成"]),
    ("我再考虑考虑", "拖延型客户的应对", "问清楚考虑的是什么，把顾虑写下来逐条回答。", "objection_handling", ["异议", "拖延"]),
    ("考研客户的开场", "在校生和在职生两套说法", "在校生谈名校，在职生谈时间，开场十秒分流。", "opening", ["考研"]),
    ("分期报价的讲法", "月供比总价更好接受", "总价先报，马上换算成每月，再讲免息期。", "quoting", ["报价", "分期"]),
    ("老学员转介绍", "成交后一周内开口", "感谢、赠课、请他推荐一位同事，三步一次说完。", "closing", ["转介绍"]),
    ("课程服务怎么讲", "服务比价格更值钱", "班主任、督学、直播回放、考前押题，一项一项讲。", "service_introduction", ["服务"]),
    ("电话被挂了怎么办", "第二通电话的开头", "换个时间，先道歉，再用一句话说清楚为什么打来。", "opening", ["开场白"]),
    ("对比竞品不踩人", "讲差异不讲坏话", "列出三点差异，只讲我们有的，不评价别人。", "objection_handling", ["竞品"]),
)
CHECKLIST = ("accurate", "compliant", "no_customer_data", "stage_matches", "practical", "media_quality")


def rng(seed: int, *parts: object) -> random.Random:
    """A generator for one decision of the day, independent of the order of everything else."""
    return random.Random(":".join(map(str, (seed, *parts))))


@dataclass(frozen=True)
class Team:
    team_id: str
    name: str
    supervisor_id: str


@dataclass(frozen=True)
class Agent:
    agent_id: str
    name: str
    team_id: str
    grade: str
    slot: int  # which of the ACT_EVERY ticks the agent works its desk on

    @property
    def supervisor_id(self) -> str:
        return f"sup-{self.team_id}"


@dataclass(frozen=True)
class LeadPlan:
    """One message an outside system sends to leads.received.v1."""

    index: int
    tick: int  # the tick it is published at (0: the overnight backlog, sent when the floor opens)
    at: datetime  # when the outside system saw the lead (the event's time)
    event_id: str
    kind: str  # new | repeat (a known person again: merged) | redelivery (the same event again) | junk kind
    data: dict
    phone_e164: str | None

    @property
    def junk(self) -> bool:
        return self.kind in JUNK_KINDS

    @property
    def key(self) -> str:
        """The record key: the source's own reference of the lead (its form submission, i.e. the event id; a
        redelivery repeats it), never a personal value such as the number (README "Personal data")."""
        return str(self.data.get("external_id") or self.event_id)


@dataclass(frozen=True)
class Customer:
    """What the person behind a lead will do when called."""

    answer_rate: float  # chance a dial connects
    reach: str | None  # the furthest funnel step an agent can take them to (None: nowhere)
    amount_fen: int  # what they pay if they do


@dataclass(frozen=True)
class TipPlan:
    tip_id: str
    author_id: str
    title: str
    summary: str
    body: str
    stage: str
    tags: tuple[str, ...]
    price: int
    passes_review: bool
    tick: int  # when the author writes and submits it


@dataclass(frozen=True)
class Shopper:
    """An agent's plan in the marketplace: tips to look at (in order) and how keen it is."""

    agent_id: str
    tick: int  # when it opens the marketplace (a break, or the end of the day)
    tips: tuple[str, ...]
    buy_rate: float
    learn_rate: float


@dataclass(frozen=True)
class Clock:
    """The simulated day: tick n is TICK_MINUTES * n after the shift starts."""

    day: date
    ticks: int

    @property
    def start(self) -> datetime:
        return datetime.combine(self.day, SHIFT_START, FLOOR_TZ)

    def at(self, tick: float) -> datetime:
        return self.start + timedelta(minutes=TICK_MINUTES * tick)

    def tick_of(self, clock_time: time) -> int:
        return int((datetime.combine(self.day, clock_time, FLOOR_TZ) - self.start) / timedelta(minutes=TICK_MINUTES))

    def on_lunch(self, tick: int) -> bool:
        return self.tick_of(LUNCH[0]) <= tick < self.tick_of(LUNCH[1])


@dataclass(frozen=True)
class Scenario:
    seed: int
    clock: Clock
    teams: tuple[Team, ...]
    agents: tuple[Agent, ...]
    leads: tuple[LeadPlan, ...]
    customers: dict[str, Customer]  # by E.164 number
    tips: tuple[TipPlan, ...]
    shoppers: tuple[Shopper, ...]
    coins_per_agent: int
    push_on_arrival: bool = True  # a routing rule pushes MBA leads to a team on arrival (demo pushes.py)

    def expected(self) -> dict[str, int]:
        """What lead-intake will make of the leads: new leads, repeats merged, junk rejected, and
        redeliveries it ignores."""
        kinds = [lead.kind for lead in self.leads]
        junk = sum(1 for lead in self.leads if lead.junk)
        return {"published": len(kinds), "new": kinds.count("new"), "merged": kinds.count("repeat"),
                "rejected": junk, "redelivered": kinds.count("redelivery")}


def shift_day_after(now: datetime) -> date:
    """The first floor day whose shift starts after `now`: every simulated time then lies ahead of the
    platform's own clock, so a call is never older than the claim the allocator stamped."""
    local = now.astimezone(FLOOR_TZ)
    day = local.date()
    return day if datetime.combine(day, SHIFT_START, FLOOR_TZ) > local else day + timedelta(days=1)


def ticks_in_shift() -> int:
    minutes = (datetime.combine(date.min, SHIFT_END) - datetime.combine(date.min, SHIFT_START)).seconds // 60
    return minutes // TICK_MINUTES


# ---- the floor ---------------------------------------------------------------------------------------------


def _name(r: random.Random) -> str:
    return r.choice(SURNAMES) + r.choice(GIVEN)


def build_floor(seed: int, agents: int) -> tuple[tuple[Team, ...], tuple[Agent, ...]]:
    """Teams of about ten agents each, with grades spread as GRADE_SHARE says (best first)."""
    r = rng(seed, "floor")
    team_count = max(1, round(agents / 10))
    teams = tuple(Team(f"team-{n + 1:02d}", f"{n + 1}组", f"sup-team-{n + 1:02d}") for n in range(team_count))
    grades: list[str] = []
    for grade in GRADES:
        grades += [grade] * round(GRADE_SHARE[grade] * agents)
    grades = (grades + ["C"] * agents)[:agents]
    r.shuffle(grades)
    floor = tuple(Agent(f"agent-{n + 1:03d}", _name(r), teams[n % team_count].team_id, grades[n], n % ACT_EVERY)
                  for n in range(agents))
    return teams, floor


# ---- leads ---------------------------------------------------------------------------------------------------


def _is_fake_looking(tail: str) -> bool:
    return len(set(tail)) == 1 or tail in "0123456789012" or tail in "9876543210987"


def _mobile(r: random.Random, taken: set[str]) -> str:
    while True:
        number = r.choice(MOBILE_PREFIXES) + "".join(r.choice("0123456789") for _ in range(8))
        if number not in taken and not _is_fake_looking(number[-8:]):
            taken.add(number)
            return number


def _written(r: random.Random, number: str) -> str:
    """A number as people type it into forms."""
    return r.choice((number, f"{number[:3]} {number[3:7]} {number[7:]}", f"+86 {number}",
                     f"{number[:3]}-{number[3:7]}-{number[7:]}", f"0086{number}"))


def _customer(r: random.Random, behaviour: dict) -> Customer:
    keen = behaviour.get("unpaid_order") or behaviour.get("logins_7d", 0) >= 3
    weights = dict(REACH_WEIGHTS)
    if keen:  # customers who came back or left an unpaid order go further
        weights = {step: w * (0.5 if step in (None, "valid") else 1.8) for step, w in weights.items()}
    reach = r.choices(list(weights), weights=list(weights.values()))[0]
    return Customer(answer_rate=round(r.uniform(0.25, 0.65), 3), reach=reach, amount_fen=0)


def _lead_data(r: random.Random, phone: str | None) -> dict:
    product = r.choice(list(PRODUCTS))
    behaviour = {"logins_7d": r.choice((0, 0, 1, 2, 3, 5)), "page_view_seconds": r.choice((0, 30, 90, 240, 600)),
                 "unpaid_order": r.random() < 0.06}
    data = {"name": _name(r), "channel": r.choice(CHANNELS), "business_line": BUSINESS_LINE,
            "product_interest": product, "region": r.choice(REGIONS), "behaviour": behaviour,
            "attributes": {"campaign": "autumn-enrolment"}}
    if phone is not None:
        data["phone"] = phone
    if r.random() < 0.3:
        data["company"] = r.choice(REGIONS)[:2] + r.choice(COMPANIES)
    if r.random() < 0.15:
        data["notes"] = r.choice(("晚上七点后方便接电话", "只接受微信沟通", "想了解周末班", "问过价格"))
    return data


def _junk(r: random.Random, kind: str) -> tuple[dict, None]:
    data = _lead_data(r, None)
    if kind == "test_number":
        data["phone"] = "13800138000"
    elif kind == "repeated_digits":
        digit = r.choice("123456789")
        data["phone"] = f"139{digit * 8}"
    elif kind == "impossible_number":
        data["phone"] = r.choice(("12345", "000", "138001"))
    elif kind == "invalid_email":
        data["email"] = r.choice(("wang@@example", "li.example.cn", "zhang@"))
    return data, None


def _arrival_tick(r: random.Random, ticks: int) -> tuple[int, float]:
    """(publish tick, minutes before the shift or within the tick): a quarter arrived overnight, the rest
    over the day with morning and afternoon peaks."""
    if r.random() < 0.25:
        return 0, -r.uniform(5, 14 * 60)
    hours = (0.7, 1.0, 1.2, 1.1, 0.6, 0.8, 1.2, 1.1, 0.9, 0.6)  # 08:30, 09:30, ... 17:30
    hour = r.choices(range(len(hours)), weights=hours)[0]
    first = hour * 60 // TICK_MINUTES
    tick = first + r.randrange(max(1, min(60 // TICK_MINUTES, ticks - first)))
    return tick, r.uniform(0, TICK_MINUTES)


def build_leads(seed: int, count: int, clock: Clock, *, junk_share: float = 0.10, repeat_share: float = 0.08,
                redelivery_share: float = 0.01) -> tuple[tuple[LeadPlan, ...], dict[str, Customer]]:
    r = rng(seed, "leads")
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"telesales-demo/{seed}")
    taken: set[str] = set()
    customers: dict[str, Customer] = {}
    drafts: list[tuple[int, float, str, dict, str | None]] = []
    for _ in range(count):
        tick, minutes = _arrival_tick(r, clock.ticks)
        roll = r.random()
        known = [d for d in drafts if d[2] == "new"]
        if roll < junk_share:
            kind = r.choice(JUNK_KINDS)
            data, e164 = _junk(r, kind)
        elif roll < junk_share + repeat_share and known:
            kind = "repeat"
            first = r.choice(known)
            e164 = first[4]
            data = _lead_data(r, _written(r, e164[3:]))  # type: ignore[index]
            data["name"] = first[3]["name"]
            tick, minutes = min(clock.ticks - 1, max(tick, first[0] + 1)), r.uniform(0, TICK_MINUTES)
        else:
            kind = "new"
            number = _mobile(r, taken)
            e164 = f"+86{number}"
            data = _lead_data(r, _written(r, number))
            customer = _customer(r, data["behaviour"])
            low, high = PRODUCTS[data["product_interest"]]
            customers[e164] = Customer(customer.answer_rate, customer.reach, r.randrange(low, high, 10_000))
        drafts.append((tick, minutes, kind, data, e164))
    leads: list[LeadPlan] = []
    for index, (tick, minutes, kind, data, e164) in enumerate(drafts):
        at = clock.at(tick) + timedelta(minutes=minutes)
        leads.append(LeadPlan(index, tick, at, str(uuid.uuid5(namespace, f"lead-{index}")), kind, data, e164))
    # an outside system retries a few sends: the very same event (same id) again, a little later
    originals = [lead for lead in leads if lead.kind == "new"]
    for n in range(round(count * redelivery_share)):
        first = r.choice(originals)
        leads.append(LeadPlan(len(leads), min(clock.ticks - 1, first.tick + 1 + n % 3), first.at, first.event_id,
                              "redelivery", first.data, first.phone_e164))
    leads.sort(key=lambda lead: (lead.tick, lead.index))
    return tuple(leads), customers


# ---- the marketplace -----------------------------------------------------------------------------------------


def build_market(seed: int, agents: tuple[Agent, ...], clock: Clock, tip_count: int
                 ) -> tuple[tuple[TipPlan, ...], tuple[Shopper, ...]]:
    """Top agents write tips in the morning (one fails its review); agents shop at lunch or after 17:00."""
    r = rng(seed, "market")
    authors = [a for a in agents if a.grade == "A"] or list(agents[:1])
    tips = []
    for n in range(tip_count):
        title, summary, body, stage, tags = TIPS[n % len(TIPS)]
        suffix = "" if n < len(TIPS) else f"（{n // len(TIPS) + 1}）"
        tips.append(TipPlan(f"tip-{n + 1:02d}", authors[n % len(authors)].agent_id, title + suffix, summary, body,
                            stage, tuple(tags), r.choice((20, 30, 30, 40, 50, 60)), passes_review=n != 1,
                            tick=1 + n % 6))
    listed = [t.tip_id for t in tips if t.passes_review]
    lunch, evening = clock.tick_of(LUNCH[0]), clock.tick_of(time(17, 0))
    shoppers = []
    for agent in agents:
        ar = rng(seed, "shopper", agent.agent_id)
        keen = ar.random() < 0.06  # the few who learn everything (deep learners)
        if not keen and ar.random() < 0.35:
            continue  # never opens the marketplace today
        looks = len(listed) if keen else ar.randint(1, 4)
        start = ar.choice((lunch, evening))
        tick = min(clock.ticks - 8, start + ar.randrange(12))
        shoppers.append(Shopper(agent.agent_id, tick, tuple(ar.sample(listed, min(looks, len(listed)))),
                                buy_rate=0.95 if keen else ar.uniform(0.3, 0.8),
                                learn_rate=1.0 if keen else ar.uniform(0.5, 0.9)))
    return tuple(tips), tuple(shoppers)


def build(seed: int, *, agents: int = 200, leads: int | None = None, day: date, tips: int = 12,
          coins_per_agent: int = 300, push_on_arrival: bool = True) -> Scenario:
    """The whole day's plan. Default leads: 12 per agent."""
    clock = Clock(day, ticks_in_shift())
    teams, floor = build_floor(seed, agents)
    lead_plans, customers = build_leads(seed, leads if leads is not None else agents * 12, clock)
    tip_plans, shoppers = build_market(seed, floor, clock, tips)
    return Scenario(seed, clock, teams, floor, lead_plans, customers, tip_plans, shoppers, coins_per_agent,
                    push_on_arrival)
