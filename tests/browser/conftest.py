"""Browser tests: Playwright driving Debian's Chromium against a live Minyi.

One server per run: uvicorn in a thread, serving `create_app()` on a free 127.0.0.1 port,
over a scratch database of its own (SQLite in the SQLite pass, PostgreSQL in the
PostgreSQL pass) that holds the small world of tests/factories. Attachments go to a
temporary directory and the triage engine is `NoModel`, as in tests/conftest.py.

A missing Chromium fails these tests; it never skips them (`make test` installs it).
"""

from __future__ import annotations

import json
import os
import struct
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from minyi.api.app import create_app
from minyi.catalogue import service as catalogue_service
from minyi.core.db import make_engine
from minyi.core.deps import get_session, get_triage_engine
from minyi.core.migrate import upgrade
from minyi.intake.filestore import DirectoryFileStore, get_file_store
from minyi.org import service as org
from minyi.org.domain import UnitKind, UtilityService
from minyi.tickets.models import Ticket
from minyi.triage.engine import NoModel
from minyi.triage.locator import clear_locator_cache
from tests.conftest import REPO, _pg_admin_url
from tests.factories import PASSWORD, make_world
from tests.servers import free_port

CHROMIUM = Path(os.environ.get("MINYI_CHROMIUM", "/usr/bin/chromium"))
AXE = REPO / "tests" / "web" / "vendor" / "axe-4.14.1.min.js"
SCREENSHOTS = REPO / "docs" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# The citizen of these tests; the tracking page asks for the last four digits.
PHONE_NUMBER = "13812345678"
LAST4 = PHONE_NUMBER[-4:]
GAS_LINE = "96777"


@dataclass(frozen=True)
class WorldIds:
    """What the tests need from the small world, as plain values (no ORM objects)."""

    bureau_id: int
    bureau_name: str
    street_office_id: int
    grid_name: str


@dataclass
class LiveServer:
    url: str
    engine: Engine
    world: WorldIds
    files_dir: Path

    def ticket_id(self, tracking_code: str) -> int:
        with Session(self.engine) as session:
            found = session.scalar(select(Ticket.id).where(Ticket.tracking_code == tracking_code))
        assert found is not None, f"no ticket with tracking code {tracking_code}"
        return found

    def ticket_count(self) -> int:
        with Session(self.engine) as session:
            return len(session.scalars(select(Ticket.id)).all())

    def tracking_code(self, ticket_id: int) -> str:
        with Session(self.engine) as session:
            found = session.scalar(select(Ticket.tracking_code).where(Ticket.id == ticket_id))
        assert found is not None, f"no ticket {ticket_id}"
        return found


@pytest.fixture(scope="package")
def live_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, WorldIds]]:
    """A migrated database of its own with the small world committed; dropped afterwards.

    One for the whole package (unlike tests/conftest.py's per-test `scratch_db`, same
    pattern): migrating once keeps the browser tests quick. The tests use fresh tickets,
    so they never meet; server and browser go when the package's last test is done."""
    kind = os.environ.get("MINYI_TEST_DB", "sqlite")
    conninfo = ""
    name = ""
    if kind == "postgresql":
        admin_url = _pg_admin_url()
        name = f"minyi_browser_{uuid.uuid4().hex[:10]}"
        conninfo = admin_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = admin_url.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'browser.sqlite3'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        _clear_caches()
        with Session(engine, expire_on_commit=False) as session:
            world = make_world(session)
            # The gas company's emergency line: the emergency box offers it to call.
            org.create_unit(
                session,
                code="GAS1",
                name="T市燃气集团",
                kind=UnitKind.UTILITY,
                area=world.town.city,
                service=UtilityService.GAS.value,
                phone=GAS_LINE,
            )
            session.commit()
            ids = WorldIds(
                bureau_id=world.bureau.id,
                bureau_name=world.bureau.name,
                street_office_id=world.street_office.id,
                grid_name=world.town.grid.name,
            )
        _clear_caches()
        yield engine, ids
    finally:
        engine.dispose()
        if name:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _clear_caches() -> None:
    # Process-wide caches of the lists and the area tree: the live server shares the
    # process with tests on other databases, so neither side may see the other's.
    catalogue_service.get_index().clear()
    clear_locator_cache()


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    _clear_caches()
    yield
    _clear_caches()


class _ThreadServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        # Signals belong to pytest's main thread.
        pass


@pytest.fixture(scope="package")
def live_server(
    live_engine: tuple[Engine, WorldIds], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    engine, world = live_engine
    files_dir = tmp_path_factory.mktemp("browser-files")
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    store = DirectoryFileStore(files_dir)

    def _session() -> Iterator[Session]:
        # Like the real dependency, on the scratch database.
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    app = create_app()
    app.dependency_overrides[get_session] = _session
    # No trained model: a developer's var/models stays out of the tests.
    app.dependency_overrides[get_triage_engine] = NoModel
    app.dependency_overrides[get_file_store] = lambda: store
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
    )
    server = _ThreadServer(config)
    thread = threading.Thread(target=server.run, name="browser-live-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the live server for the browser tests did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", engine, world, files_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: the browser tests need Debian's chromium "
            "(`make test` installs it; by hand: apt-get update && apt-get install -y chromium)",
            pytrace=False,
        )
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield chromium
    chromium.close()


@pytest.fixture()
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    """A fresh browser profile per test (no cookies carried over), phone-sized."""
    ctx = browser.new_context(
        base_url=live_server.url, viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture()
def page(context: BrowserContext) -> Page:
    return context.new_page()


# --- accessibility -----------------------------------------------------------------------


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (the vendored script, no network)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:10]:
            lines.append(f"    {json.dumps(node['target'], ensure_ascii=False)}: {node['html']}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"        {summary}")
    return "\n".join(lines)


def assert_accessible(page: Page, name: str) -> None:
    """No critical or serious axe-core violation on the page."""
    bad = [v for v in axe_violations(page) if v["impact"] in ("critical", "serious")]
    assert not bad, f"axe-core on {name} ({page.url}):\n{describe(bad)}"


# --- screenshots -------------------------------------------------------------------------


def screenshot(page: Page, name: str, *, phone: bool = True, desktop: bool = False) -> None:
    """docs/screenshots/<name>.png at phone size and/or <name>-desktop.png, only with
    MINYI_SCREENSHOTS=1, so that an ordinary run never rewrites tracked files."""
    if os.environ.get("MINYI_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    before = page.viewport_size
    for wanted, size, suffix in ((phone, PHONE, ""), (desktop, DESKTOP, "-desktop")):
        if wanted:
            page.set_viewport_size(size)
            page.screenshot(path=str(SCREENSHOTS / f"{name}{suffix}.png"), full_page=True)
    if before is not None:
        page.set_viewport_size(before)


# --- staff acting through the JSON API ----------------------------------------------------


class StaffApi:
    """Staff of the small world acting on tickets through /api/v1, as their systems do."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        self.tokens: dict[str, str] = {}

    def headers(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            response = self.http.post(
                "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            self.tokens[username] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def do(self, who: str, ticket_id: int, action: str, **body: Any) -> dict[str, Any]:
        response = self.http.post(
            f"/api/v1/tickets/{ticket_id}/{action}", json=body, headers=self.headers(who)
        )
        assert response.status_code == 200, f"{who} {action}: {response.text}"
        result: dict[str, Any] = response.json()
        return result

    def post(self, who: str, path: str, body: dict[str, Any]) -> Any:
        response = self.http.post(path, json=body, headers=self.headers(who))
        assert response.status_code in (200, 201), f"{who} {path}: {response.text}"
        return response.json()

    def get(self, who: str, path: str) -> Any:
        response = self.http.get(path, headers=self.headers(who))
        assert response.status_code == 200, response.text
        return response.json()

    def close(self) -> None:
        self.http.close()


@pytest.fixture()
def staff_api(live_server: LiveServer) -> Iterator[StaffApi]:
    api = StaffApi(live_server.url)
    yield api
    api.close()


def walk_to_rating(api: StaffApi, ticket_id: int, unit_id: int, reply: str) -> None:
    """The centre dispatches, the unit accepts, calls, works and replies, the centre
    approves the reply: the order of tests/tickets/test_routes.py."""
    api.do("dispatcher", ticket_id, "dispatch", unit_id=unit_id, co_unit_ids=[])
    api.do("handler", ticket_id, "accept")
    api.do("handler", ticket_id, "contact")
    api.do("handler", ticket_id, "start")
    api.do("handler", ticket_id, "reply", text=reply)
    api.do("dispatcher", ticket_id, "approve_reply")


# --- citizen helpers ---------------------------------------------------------------------


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A real PNG (signature, IHDR, IDAT, IEND with their CRCs): a red square."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"\xcc\x22\x22" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def api_appeal(live: LiveServer, text: str, phone: str = PHONE_NUMBER) -> tuple[int, str]:
    """An appeal filed through the JSON API (quicker than the form where the form is not
    what a test is about): its ticket id and tracking code."""
    response = httpx.post(
        f"{live.url}/api/v1/appeals",
        json={
            "channel": "web",
            "type": "complaint",
            "text": text,
            "address_text": "东风街道幸福社区",
            "requester": {"name": "王小明", "phone": phone},
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return int(body["ticket_id"]), str(body["tracking_code"])


def open_tracking(page: Page, code: str, last4: str = LAST4) -> None:
    """Find an appeal the way a citizen does: /track, the code and the phone's last digits."""
    page.goto("/track")
    page.get_by_label("查询码").fill(code)
    page.get_by_label("手机号后四位").fill(last4)
    page.get_by_role("button", name="查询", exact=True).click()
    page.wait_for_url(f"**/track/{code}")


# --- staff helpers -------------------------------------------------------------------------


def staff_login(page: Page, username: str, target: str = "/staff/intake") -> None:
    page.goto(target)
    if "/staff/login" not in page.url:
        page.goto("/staff/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url(lambda url: "/staff/login" not in url)
