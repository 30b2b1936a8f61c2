"""`minyi worker`: fire due SLA timers and deliver notifications, every few seconds; once a
day, remind the admins when next year's holidays are still to be entered."""

from __future__ import annotations

import time
from datetime import date

import typer

worker_app = typer.Typer(help="SLA 计时与通知投递 / the SLA and notification worker")


@worker_app.callback(invoke_without_command=True)
def worker(
    once: bool = typer.Option(False, "--once", help="one pass, then exit"),
    interval: float = typer.Option(5.0, "--interval", help="seconds between passes"),
) -> None:
    """Fire due warnings and deadlines, then deliver queued notifications; repeat."""
    from minyi.core.clock import CHINA_TZ, get_clock
    from minyi.core.config import get_settings
    from minyi.core.db import session_scope
    from minyi.notify.delivery import deliver_once
    from minyi.sla.calendar.service import remind_admins
    from minyi.sla.tasks import fire_due

    settings = get_settings()
    # Small firing batches: each fired rung writes an audit entry, and the audit chain's head
    # stays locked until the batch commits, so every audited change elsewhere waits for it.
    fire_batch, send_batch = 100, 100
    reminded_on: date | None = None
    try:
        while True:
            now = get_clock().now()
            today = now.astimezone(CHINA_TZ).date()
            reminders = 0
            if today != reminded_on:
                # Before delivery, so the reminder reaches the inboxes in this same pass;
                # remind_admins itself sends nothing twice a day, should the worker restart.
                with session_scope() as session:
                    reminders = remind_admins(session, now=now)
                reminded_on = today
            # Two transactions: a failing channel never undoes the cards already fired.
            with session_scope() as session:
                fired = fire_due(session, now=now, limit=fire_batch)
            with session_scope() as session:
                sent = deliver_once(session, settings, now=now, limit=send_batch)
            if fired.claimed or sent.picked or reminders:
                typer.echo(
                    f"{now.isoformat()} 计时 timers {fired.claimed} 预警 warnings "
                    f"{fired.warnings} 亮牌 cards {fired.cards}; 通知 sent {sent.sent} "
                    f"retrying {sent.retrying} dead {sent.dead}"
                    + (f"; 节假日录入提醒 calendar reminders {reminders}" if reminders else "")
                )
            if once:
                return
            # A full batch means a backlog (after downtime, a burst of deadlines): go on at
            # once rather than leave due cards and messages waiting an interval each.
            if fired.claimed < fire_batch and sent.picked < send_batch:
                time.sleep(interval)
    except KeyboardInterrupt:
        typer.echo("已停止 / worker stopped")
