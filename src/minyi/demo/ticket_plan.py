"""Planning the demo's ticket history: which appeals arrive when, and what becomes of them.

Pure and deterministic: the same messages, city facts, `now` and seed give the same plan.
Each ticket gets a real message, a catalogue item (a leaf of the subtrees the crosswalk
gives its label, the one whose name shares most words with the text), a place (the most
precise area the text names, else a grid of a district drawn by population), a requester
with a clearly fake phone number (1700000xxxx), a channel, a type, and a path
(`ticket_paths`). Steps after `now` are dropped, so recent tickets are still open; a few
more stop early (stalled), the younger the likelier. With `every_status`, a status no
ticket reaches is forced onto a recent ticket, so that even a small plan shows them all.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from minyi.core.clock import CHINA_TZ
from minyi.demo.texts import Burst, Message, Reply
from minyi.demo.ticket_matching import ItemChooser, Leaf, PlaceFinder, ReplyFinder
from minyi.demo.ticket_paths import (
    FORCING,
    Features,
    Kind,
    PathBuilder,
    Step,
    answer_path,
    draw_features,
    emergency_path,
    final_status,
    handle_path,
    invalid_path,
    merged_path,
    transfer_path,
    walk,
)
from minyi.intake.domain import AppealType, Channel
from minyi.tickets.domain import Action, Status

SEED = 12345
DEFAULT_TICKETS = 5_000
WINDOW = timedelta(days=90)
# Every requester's number starts so: made up at a glance, and easy to find and delete.
PHONE_PREFIX = "1700000"

# Of the appeals in the district with its own case system, the share filed through it.
SYSTEM_SHARE = 0.12
CHANNEL_SHARES: tuple[tuple[Channel, float], ...] = (
    (Channel.HOTLINE, 0.45),
    (Channel.APP, 0.30),
    (Channel.WEB, 0.07),
    (Channel.WINDOW, 0.05),
    (Channel.GRID_WORKER, 0.04),
    (Channel.LEADER_BOARD, 0.02),
    (Channel.EMAIL, 0.015),
    (Channel.PARTY_MEMBER, 0.01),
    (Channel.UNRESOLVED_WINDOW, 0.005),
    (Channel.OPEN311, 0.005),
)
# Words in a title that say what kind of appeal it is; otherwise the shares below.
TYPE_WORDS: tuple[tuple[AppealType, tuple[str, ...]], ...] = (
    (AppealType.PRAISE, ("感谢", "表扬", "点赞")),
    (AppealType.CONSULTATION, ("请问", "咨询", "能否", "是否可以", "如何办理", "怎么办理")),
    (AppealType.REPORT, ("举报",)),
    (AppealType.SUGGESTION, ("建议",)),
    (AppealType.COMPLAINT, ("投诉",)),
    (AppealType.REQUEST, ("求助", "请求", "恳请", "申请")),
)
TYPE_SHARES: tuple[tuple[AppealType, float], ...] = (
    (AppealType.COMPLAINT, 0.5),
    (AppealType.REQUEST, 0.3),
    (AppealType.SUGGESTION, 0.08),
    (AppealType.CONSULTATION, 0.07),
    (AppealType.REPORT, 0.05),
)
# A title naming one of these is handed over at once, to this line.
EMERGENCY_WORDS: tuple[tuple[str, str], ...] = (
    ("爆炸", "119"),
    ("火灾", "119"),
    ("起火", "119"),
    ("着火", "119"),
    ("坍塌", "119"),
    ("泄漏", "119"),
    ("漏气", "gas"),
    ("车祸", "122"),
    ("殴打", "110"),
    ("打架", "110"),
    ("斗殴", "110"),
    ("抢劫", "110"),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
COMPANY_WORDS = ("恒信", "瑞丰", "华安", "兴业", "鼎盛", "宏达", "广源", "金桥")
COMPANY_TRADES = ("商贸", "物业服务", "建材", "餐饮管理", "科技", "运输")
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# Stall: the oldest a ticket may be and still be waiting in this status (days).
STALL_MAX_AGE: dict[Status, float] = {
    Status.RECEIVED: 1,
    Status.PENDING_DISPATCH: 2,
    Status.DISTRICT_PENDING: 3,
    Status.DISPATCHED: 3,
    Status.RETURNED: 5,
    Status.CONSULTATION: 7,
    Status.ACCEPTED: 5,
    Status.CONTACTED: 7,
    Status.IN_PROGRESS: 30,
    Status.SUSPENDED: 45,
    Status.REPLIED: 5,
    Status.REPLY_REVIEW: 5,
    Status.AWAITING_RATING: 7,
    Status.REOPENED: 10,
    Status.SUPERVISED: 30,
}
# Where a stalled ticket waits, relative odds: the short-lived steps get a better chance,
# so that each is seen in the workbench's queues (the long ones collect tickets anyway).
STALL_ODDS: dict[Status, float] = {
    Status.RETURNED: 6,
    Status.CONSULTATION: 6,
    Status.DISTRICT_PENDING: 3,
    Status.REPLY_REVIEW: 3,
    Status.REPLIED: 2,
    Status.SUSPENDED: 2,
}


@dataclass(frozen=True, slots=True)
class CityFacts:
    """What the plan needs to know of the built city (read once from the database)."""

    leaves: Mapping[str, tuple[tuple[Leaf, ...], tuple[Leaf, ...]]]  # label → primary, other
    places: Sequence[tuple[str, str]]  # (name or alias, area code), every area but the city
    grids: Mapping[str, Sequence[str]]  # district code → grid codes
    districts: Sequence[tuple[str, int]]  # (district code, population)
    machine_district: str | None = None  # whose own case system files appeals


@dataclass(frozen=True, slots=True)
class RequesterPlan:
    name: str
    phone: str
    anonymous: bool = False
    company_name: str | None = None
    credit_code: str | None = None


@dataclass(frozen=True, slots=True)
class TicketPlan:
    index: int
    received_at: datetime
    kind: Kind
    channel: Channel
    appeal_type: AppealType
    title: str
    text: str
    item_path: str
    area_code: str | None  # None: another city's matter, transferred out
    requester: RequesterPlan
    steps: tuple[Step, ...]
    final: Status


@dataclass
class _Draft:
    key: int
    received_at: datetime
    kind: Kind
    message: Message
    steps: list[Step] = field(default_factory=list)
    burst: bool = False
    forced: bool = False
    line: str = "110"
    replies: tuple[str, ...] = ()
    appeal_type: AppealType = AppealType.COMPLAINT


def credit_code(serial: int) -> str:
    """A well-formed unified social credit code in division 999999, which no place has."""
    body = f"91999999MA{serial % 10_000_000:07d}"
    value = {c: i for i, c in enumerate(_USCC_ALPHABET)}
    total = sum(value[c] * pow(3, i, 31) for i, c in enumerate(body))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


def appeal_type_of(title: str, rng: random.Random) -> AppealType:
    for kind, words in TYPE_WORDS:
        if any(w in title for w in words):
            return kind
    kinds = [kind for kind, _ in TYPE_SHARES]
    return rng.choices(kinds, [share for _, share in TYPE_SHARES])[0]


def emergency_line(title: str) -> str | None:
    if "信息" in title:  # "个人信息泄漏" is a data matter, not a gas leak
        return None
    return next((line for word, line in EMERGENCY_WORDS if word in title), None)


def receive_time(rng: random.Random, start: datetime, now: datetime) -> datetime:
    """More calls in office hours and on weekdays, slowly more as the weeks go by."""
    span = (now - start).total_seconds()
    while True:
        at = start + timedelta(seconds=rng.uniform(0, span))
        local = at.astimezone(CHINA_TZ)
        weight = _HOUR_WEIGHTS[local.hour] / max(_HOUR_WEIGHTS)
        weight *= 0.75 if local.weekday() >= 5 else 1.0
        weight *= 0.8 + 0.2 * (at - start).total_seconds() / span
        if rng.random() < weight:
            return at


_HOUR_WEIGHTS = (
    0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.5, 3.5, 3.5, 3.0,
    2.0, 2.5, 3.2, 3.2, 3.0, 2.5, 1.8, 1.6, 1.5, 1.2, 0.8, 0.4,
)  # fmt: skip


class _Pools:
    """Messages handed out in a shuffled order, each kind from its own pool."""

    def __init__(self, messages: Sequence[Message], rng: random.Random) -> None:
        emergencies = [m for m in messages if emergency_line(m.title)]
        others = [m for m in messages if not emergency_line(m.title)]
        # Messages with their body first; titles alone only once those run out.
        with_body = [m for m in others if m.text != m.title]
        title_only = [m for m in others if m.text == m.title]
        rng.shuffle(with_body)
        rng.shuffle(title_only)
        rng.shuffle(emergencies)
        self.main = with_body + title_only
        self.transfers = [m for m in self.main if m.other_city]
        self.emergencies = emergencies
        self.next_main = self.next_transfer = 0
        if not self.main:
            raise ValueError("no messages to plan tickets with")

    def main_message(self) -> Message:
        message = self.main[self.next_main % len(self.main)]
        self.next_main += 1
        return message

    def transfer(self) -> Message | None:
        if self.next_transfer >= len(self.transfers):
            return None
        message = self.transfers[self.next_transfer]
        self.next_transfer += 1
        return message

    def emergency(self) -> Message | None:
        return self.emergencies.pop() if self.emergencies else None


def plan_tickets(
    count: int,
    *,
    now: datetime,
    messages: Sequence[Message],
    replies: Sequence[Reply],
    bursts: Sequence[Burst],
    facts: CityFacts,
    seed: int = SEED,
    not_before: datetime | None = None,
    every_status: bool = True,
) -> list[TicketPlan]:
    """`count` tickets received in the 90 days before `now` (not before `not_before`, when
    the lists came into force), ordered by the time they arrived."""
    rng = random.Random(seed)
    start = now - WINDOW if not_before is None else max(now - WINDOW, not_before)
    pools = _Pools(messages, rng)
    finder = ReplyFinder(replies)
    drafts = _plan_bursts(count, rng, start, now, bursts, finder)
    for key in range(len(drafts), count):
        drafts.append(_regular(key, rng, start, now, pools, finder))
    if every_status:
        _cover_every_status(drafts, rng, start, now)
    return _finish(drafts, rng, facts, now)


def _regular(
    key: int,
    rng: random.Random,
    start: datetime,
    now: datetime,
    pools: _Pools,
    finder: ReplyFinder,
) -> _Draft:
    at = receive_time(rng, start, now)
    r = rng.random()
    message: Message | None = None
    kind = Kind.HANDLE
    if r < 0.004:
        message, kind = pools.emergency(), Kind.EMERGENCY
    elif r < 0.019:
        message, kind = pools.transfer(), Kind.TRANSFER
    elif r < 0.034:
        message, kind = pools.main_message(), Kind.INVALID
    if message is None:
        message, kind = pools.main_message(), Kind.HANDLE
    appeal_type = appeal_type_of(message.title, rng)
    if kind is Kind.HANDLE and appeal_type is AppealType.CONSULTATION and rng.random() < 0.7:
        kind = Kind.ANSWER
    draft = _Draft(key, at, kind, message, appeal_type=appeal_type)
    draft.line = emergency_line(message.title) or "110"
    draft.replies = finder.best(message.title, 4, rng)
    draft.steps = _path(draft, rng, draw_features(rng))
    _cut(draft, now)
    if kind is Kind.HANDLE:
        _maybe_stall(draft, rng, now)
    return draft


def _path(draft: _Draft, rng: random.Random, features: Features) -> list[Step]:
    b = PathBuilder(rng, draft.received_at, draft.replies)
    if draft.kind is Kind.ANSWER:
        answer_path(b)
    elif draft.kind is Kind.EMERGENCY:
        emergency_path(b, draft.line)
    elif draft.kind is Kind.TRANSFER:
        transfer_path(b, draft.message.other_city or "B市")
    elif draft.kind is Kind.INVALID:
        invalid_path(b)
    else:
        handle_path(b, features)
    return b.steps


def _cut(draft: _Draft, now: datetime) -> None:
    """What has not happened yet is not in the history."""
    draft.steps = [s for s in draft.steps if s.at <= now]


def _maybe_stall(draft: _Draft, rng: random.Random, now: datetime) -> None:
    """Some tickets wait longer than usual at one step; the younger, the likelier."""
    age = (now - draft.received_at) / timedelta(days=1)
    if rng.random() >= 0.4 * math.exp(-age / 12):
        return
    statuses = [Status.RECEIVED, *walk(draft.steps)]
    candidates: list[int] = []
    odds: list[float] = []
    for k, status in enumerate(statuses[:-1]):
        since = draft.steps[k - 1].at if k else draft.received_at
        waiting = (now - since) / timedelta(days=1)
        if status in STALL_MAX_AGE and waiting <= STALL_MAX_AGE[status]:
            candidates.append(k)
            odds.append(STALL_ODDS.get(status, 1))
    if candidates:
        draft.steps = draft.steps[: rng.choices(candidates, odds)[0]]


def _plan_bursts(
    count: int,
    rng: random.Random,
    start: datetime,
    now: datetime,
    bursts: Sequence[Burst],
    finder: ReplyFinder,
) -> list[_Draft]:
    """A few appeals about one site, the later ones merged into the first while it is
    handled: its reply then reaches every requester (共享答复)."""
    clusters = [b for b in bursts if len(b.messages) >= 2]
    if count < 10 or not clusters:
        return []
    drafts: list[_Draft] = []
    used = dict.fromkeys(range(len(clusters)), 0)
    span = now - start
    for j in range(max(1, round(count / 800))):
        c = j % len(clusters)
        left = len(clusters[c].messages) - used[c]
        size = min(3 + rng.randint(0, 4), left, count - len(drafts))
        if size < 2:
            continue
        members = clusters[c].messages[used[c] : used[c] + size]
        used[c] += size
        parent_at = start + span * rng.uniform(0.05, 0.8)
        parent = _Draft(len(drafts), parent_at, Kind.HANDLE, members[0], burst=True)
        parent.replies = finder.best(members[0].title, 4, rng)
        features = replace(draw_features(rng, early_exit=False), slow=True)
        parent.steps = _path(parent, rng, features)
        approve = next(
            (s.at for s in parent.steps if s.action is Action.APPROVE_REPLY),
            parent.steps[-1].at,
        )
        _cut(parent, now)
        drafts.append(parent)
        room = (min(approve, now) - parent_at) / 2
        for message in members[1:]:
            child_at = parent_at + room * rng.uniform(0.02, 1.0)
            child = _Draft(len(drafts), child_at, Kind.MERGED, message, burst=True)
            b = PathBuilder(rng, child_at, ())
            merged_path(b, parent.key, min(timedelta(hours=8), room / 2))
            child.steps = b.steps
            _cut(child, now)
            drafts.append(child)
    return drafts


def _cover_every_status(
    drafts: list[_Draft], rng: random.Random, start: datetime, now: datetime
) -> None:
    """Force each status no ticket reached onto a recent ticket whose own status is common."""
    counts: dict[Status, int] = dict.fromkeys(Status, 0)
    for d in drafts:
        counts[final_status(d.steps)] += 1
    for status in Status:
        if counts[status] or status is Status.MERGED:  # a merge needs a burst's parent
            continue
        victims = sorted(
            (d for d in drafts if not d.burst and not d.forced),
            key=lambda d: (d.received_at, d.key),
            reverse=True,
        )
        victim = next((d for d in victims if counts[final_status(d.steps)] > 1), None)
        if victim is None:
            return
        counts[final_status(victim.steps)] -= 1
        _force(victim, status, rng, start, now)
        counts[final_status(victim.steps)] += 1


_FORCED_KIND = {
    Status.ANSWERED: Kind.ANSWER,
    Status.EMERGENCY_HANDED_OVER: Kind.EMERGENCY,
    Status.TRANSFERRED_OUT: Kind.TRANSFER,
    Status.INVALID: Kind.INVALID,
}


def _force(
    draft: _Draft, status: Status, rng: random.Random, start: datetime, now: datetime
) -> None:
    draft.forced = True
    draft.kind = _FORCED_KIND.get(status, Kind.HANDLE)
    if draft.kind is Kind.ANSWER:
        draft.appeal_type = AppealType.CONSULTATION
    steps = _path(draft, rng, FORCING.get(status, Features()))
    # Stop where the status is first reached (`received`: before any step).
    reached = [Status.RECEIVED, *walk(steps)].index(status)
    steps = steps[:reached]
    last = steps[-1].at if steps else draft.received_at
    shift = now - timedelta(minutes=rng.uniform(5, 180)) - last
    if draft.received_at + shift < start:
        shift = start - draft.received_at
    draft.received_at += shift
    draft.steps = [replace(s, at=s.at + shift) for s in steps]


def _finish(
    drafts: list[_Draft], rng: random.Random, facts: CityFacts, now: datetime
) -> list[TicketPlan]:
    drafts.sort(key=lambda d: (d.received_at, d.key))
    index = {d.key: i for i, d in enumerate(drafts)}
    places = PlaceFinder(facts.places)
    items = ItemChooser(facts.leaves)
    phones = rng.sample(range(10_000), 10_000)
    districts = [code for code, _ in facts.districts]
    populations = [population for _, population in facts.districts]
    channels = [channel for channel, _ in CHANNEL_SHARES]
    channel_weights = [share for _, share in CHANNEL_SHARES]
    plans: list[TicketPlan] = []
    for i, d in enumerate(drafts):
        m = d.message
        transfer = d.kind is Kind.TRANSFER and m.other_city is not None
        title, text = (m.raw_title, m.raw_text) if transfer else (m.title, m.text)
        item = items.choose(m.label, title + " " + text, rng)
        area = None if transfer else places.find(title + " " + text)
        if area is None and not transfer:
            district = rng.choices(districts, populations)[0]
            grids = facts.grids[district]
            area = grids[rng.randrange(len(grids))]
        channel = rng.choices(channels, channel_weights)[0]
        in_machine_district = (area or "").split("-")[0] == facts.machine_district
        if in_machine_district and rng.random() < SYSTEM_SHARE:
            channel = Channel.SYSTEM
        if d.kind is Kind.EMERGENCY:
            channel = Channel.HOTLINE  # nobody types a fire into a form
        steps = tuple(replace(s, into=index[s.into]) if s.into is not None else s for s in d.steps)
        plans.append(
            TicketPlan(
                index=i,
                received_at=d.received_at,
                kind=d.kind,
                channel=channel,
                appeal_type=d.appeal_type,
                title=title,
                text=text,
                item_path=item,
                area_code=area,
                requester=_requester(rng, phones[i % len(phones)], channel),
                steps=steps,
                final=final_status(steps),
            )
        )
    return plans


def _requester(rng: random.Random, number: int, channel: Channel) -> RequesterPlan:
    phone = f"{PHONE_PREFIX}{number:04d}"
    public = channel.access.value == "public"
    anonymous = rng.random() < (0.05 if public else 0.01)
    name = SURNAMES[rng.randrange(len(SURNAMES))] + ("先生" if rng.random() < 0.5 else "女士")
    if rng.random() < 0.03:
        company = (
            f"A市{COMPANY_WORDS[rng.randrange(len(COMPANY_WORDS))]}"
            f"{COMPANY_TRADES[rng.randrange(len(COMPANY_TRADES))]}有限公司"
        )
        return RequesterPlan(name, phone, anonymous, company, credit_code(number))
    return RequesterPlan(name, phone, anonymous)
