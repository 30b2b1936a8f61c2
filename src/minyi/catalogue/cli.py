"""`minyi lists import|export|coverage|columns`: the organisation and the three lists as CSV
or Excel, and the gaps of the lists in force.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import typer

lists_app = typer.Typer(
    help="Import and export the organisation and the three lists (导入导出组织与三张清单)",
    no_args_is_help=True,
)

KINDS_HELP = (
    "areas | units | items | responsibility | implementation | district_choices | "
    "lists (整套清单, xlsx only)"
)
_STAGE = {"validate": "校验 / checking", "store": "写入 / storing"}


class _Counter:
    """A row counter on standard error, redrawn at most five times a second."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.done = 0
        self.total = 0
        self._drawn = 0.0
        self._tty = sys.stderr.isatty()

    def start(self, stage: str, total: int) -> None:
        self.finish()
        self.stage, self.done, self.total = stage, 0, total

    def advance(self, stage: str, count: int) -> None:
        self.done += count
        now = time.monotonic()
        # Redrawing with \r only makes sense on a terminal; a log gets the final count.
        if self._tty and now - self._drawn > 0.2:
            self._draw()
            self._drawn = now

    def _draw(self) -> None:
        if self.stage is not None:
            label = _STAGE.get(self.stage, self.stage)
            typer.echo(f"\r{label}: {self.done}/{self.total}", nl=False, err=True)

    def finish(self) -> None:
        if self.stage is not None and self.total:
            self._draw()
            typer.echo("", err=True)
        self.stage = None


@lists_app.command("import")
def import_command(
    kind: str = typer.Argument(..., help=KINDS_HELP),
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    batch: str | None = typer.Option(None, "--batch", help="Batch number, e.g. 2026-08"),
    reason: str | None = typer.Option(None, "--reason", help="Why the lists change"),
    effective_at: str | None = typer.Option(
        None, "--effective-at", help="ISO time the batch takes effect (default: now)"
    ),
    author: str = typer.Option("命令行导入", "--author", help="Who made the batch"),
    allow_backdated: bool = typer.Option(
        False, "--allow-backdated", help="Allow a batch in the past (loading history)"
    ),
) -> None:
    """Import a CSV or .xlsx: all rows or, if any is bad, none (every bad row is listed)."""
    from minyi.catalogue import io
    from minyi.core.db import session_scope
    from minyi.core.errors import DomainError, ValidationFailed

    counter = _Counter()
    try:
        list_kind = io.parse_kind(kind)
        when = io.parse_time(effective_at) if effective_at else None
        with session_scope() as session:
            report = io.import_file(
                session,
                list_kind,
                file.name,
                file.read_bytes(),
                batch_number=batch,
                author=author,
                actor="cli",
                reason=reason,
                effective_at=when,
                allow_backdated=allow_backdated,
                progress=counter,
            )
    except ValidationFailed as exc:
        counter.finish()
        typer.echo(f"{exc.message} / {exc.message_en}", err=True)
        if exc.code == "import_invalid" and isinstance(exc.details, list):
            for line in io.problem_lines(exc.details):
                typer.echo(f"  {line}", err=True)
        raise typer.Exit(code=1) from exc
    except DomainError as exc:
        counter.finish()
        typer.echo(f"{exc.message} / {exc.message_en}", err=True)
        raise typer.Exit(code=1) from exc
    counter.finish()
    typer.echo(report.message)
    typer.echo(report.message_en)


@lists_app.command("export")
def export_command(
    kind: str = typer.Argument(..., help=KINDS_HELP),
    file: Path = typer.Argument(..., dir_okay=False, help="Where to write"),
    fmt: str | None = typer.Option(
        None, "--format", help="csv or xlsx (default: from the file name)"
    ),
    at: str | None = typer.Option(None, "--at", help="ISO time of the lists (default: now)"),
    headers: str = typer.Option("en", "--headers", help="en or zh column headers"),
) -> None:
    """Write the lists in force (or the organisation) to a file that re-imports cleanly."""
    from minyi.catalogue import io
    from minyi.core.clock import get_clock
    from minyi.core.db import session_scope
    from minyi.core.errors import DomainError

    chosen = (fmt or ("xlsx" if file.suffix.lower() == ".xlsx" else "csv")).lower()
    if chosen not in ("csv", "xlsx") or headers not in ("en", "zh"):
        typer.echo("--format 只能是 csv 或 xlsx，--headers 只能是 en 或 zh", err=True)
        raise typer.Exit(code=2)
    try:
        list_kind = io.parse_kind(kind)
        when = io.parse_time(at) if at else get_clock().now()
        with session_scope() as session:
            out = io.export_file(
                session,
                list_kind,
                fmt="xlsx" if chosen == "xlsx" else "csv",
                at=when,
                headers="zh" if headers == "zh" else "en",
            )
    except DomainError as exc:
        typer.echo(f"{exc.message} / {exc.message_en}", err=True)
        raise typer.Exit(code=1) from exc
    file.write_bytes(out.content)
    typer.echo(
        f"已导出 {out.rows} 行到 {file}（{io.KIND_ZH[list_kind]}，截至 {io.local_time(when)}）"
    )
    typer.echo(f"Exported {out.rows} row(s) of {list_kind.value} to {file}")


@lists_app.command("coverage")
def coverage_command(
    as_json: bool = typer.Option(False, "--json", help="Print the whole report as JSON"),
    at: str | None = typer.Option(None, "--at", help="ISO time of the lists (default: now)"),
    show: int = typer.Option(20, "--show", help="Lines shown per list (text output)"),
) -> None:
    """Items nobody handles, (item, unit) pairs without a rule, bad district values."""
    from minyi.catalogue import io
    from minyi.catalogue.coverage import coverage_report
    from minyi.core.clock import get_clock
    from minyi.core.db import session_scope
    from minyi.core.errors import DomainError

    try:
        when = io.parse_time(at) if at else get_clock().now()
        with session_scope() as session:
            report = coverage_report(session, at=when)
    except DomainError as exc:
        typer.echo(f"{exc.message} / {exc.message_en}", err=True)
        raise typer.Exit(code=1) from exc
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
        return
    typer.echo(f"清单覆盖情况（批次 {report.batch_number or '无'}，{io.local_time(when)}）")
    typer.echo(f"Coverage of the lists (batch {report.batch_number or 'none'})")
    typer.echo(
        f"末级事项 / leaf items: {report.leaf_items}；"
        f"无职责规则 / uncovered: {report.uncovered_count}；"
        f"区县缺口 / district gaps: {report.district_gap_count}；"
        f"缺实施规则 / missing implementation: {report.missing_implementation_count}；"
        f"区县取值问题 / bad district values: {report.choice_problem_count}"
    )
    sections: list[tuple[str, list[str]]] = [
        (
            "无职责规则的事项 / items with no responsibility rule",
            [f"{i.item_path} {i.name}" for i in report.uncovered_items],
        ),
        (
            "区县缺口 / districts where an item finds no owner",
            [
                f"{g.item_path} {g.name} @ {g.district_code}: {', '.join(g.area_codes)}"
                for g in report.district_gaps
            ],
        ),
        (
            "缺实施规则 / (item, lead unit) with no implementation rule",
            [
                f"{m.item_path} {m.name} → {m.unit_code} {m.unit_name}"
                for m in report.missing_implementations
            ],
        ),
        (
            "区县取值问题 / district values outside their rule",
            [
                f"{c.item_path} {c.unit_code or '(默认)'} @ {c.district_code}: {c.reason}"
                for c in report.choice_problems
            ],
        ),
    ]
    for title, lines in sections:
        if not lines:
            continue
        typer.echo(f"\n{title}:")
        for line in lines[:show]:
            typer.echo(f"  {line}")
        if len(lines) > show:
            typer.echo(f"  …… 另有 {len(lines) - show} 条 / {len(lines) - show} more (--json)")
    problems = report.uncovered_count + report.missing_implementation_count
    if problems + report.choice_problem_count == 0 and report.district_gap_count == 0:
        typer.echo("\n没有发现缺口 / no gaps found")


@lists_app.command("columns")
def columns_command(
    kind: str | None = typer.Argument(None, help=KINDS_HELP),
) -> None:
    """The columns each table accepts, in English and Chinese (* required)."""
    from minyi.catalogue import io
    from minyi.catalogue.tabular import SPECS
    from minyi.core.errors import DomainError

    try:
        chosen = io.parse_kind(kind) if kind else io.ListKind.LISTS
    except DomainError as exc:
        typer.echo(f"{exc.message} / {exc.message_en}", err=True)
        raise typer.Exit(code=1) from exc
    for k in io.TABLE_KINDS if chosen is io.ListKind.LISTS else (chosen,):
        spec = SPECS[k.value]
        typer.echo(f"{spec.kind}（{spec.zh}）")
        for col in spec.columns:
            mark = "*" if col.required else " "
            other = f"  also: {', '.join(col.aliases)}" if col.aliases else ""
            typer.echo(f"  {mark} {col.name:<22} {col.zh}{other}")
