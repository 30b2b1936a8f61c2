"""`minyi knowledge draft`: propose draft entries from recurring past replies."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from minyi.core.config import get_settings
from minyi.triage.knowledge.domain import PRIVACY_LABEL_ZH
from minyi.triage.knowledge.drafts import SAME_REPLY, propose, read_replies
from minyi.triage.knowledge.schemas import EntryCreate

knowledge_app = typer.Typer(help="知识库 / the knowledge base", no_args_is_help=True)


@knowledge_app.command()
def draft(
    path: Annotated[
        Path | None, typer.Option(help="replies.csv (default: <shared>/appeals/replies.csv)")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="cosine at which two replies are the same template")
    ] = SAME_REPLY,
    include_acknowledgements: Annotated[
        bool, typer.Option(help="also draft receipts such as '留言已收悉，已转…'")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="count only, store nothing")] = False,
) -> None:
    """Draft entries from replies that were sent, nearly word for word, to several messages.
    Drafts only: an approver must approve each one; drafts naming a person are flagged and
    cannot be approved."""
    from minyi.core.db import session_scope
    from minyi.triage.knowledge import service
    from minyi.triage.knowledge.models import KnowledgeEntry

    source = path or get_settings().shared_data / "appeals" / "replies.csv"
    if not source.is_file():
        typer.echo(f"找不到文件 / no such file: {source}", err=True)
        raise typer.Exit(2)
    rows = read_replies(source)
    typer.echo(f"读取 {len(rows)} 条答复 / read {len(rows)} replies from {source.name}", err=True)
    candidates = propose(rows, threshold)
    typer.echo(f"找到 {len(candidates)} 组重复答复 / {len(candidates)} recurring", err=True)
    created = skipped_ack = already = flagged = 0
    by_flag: Counter[str] = Counter()
    with session_scope() as session:
        known = set(session.scalars(select(KnowledgeEntry.answer)).all())
        for number, candidate in enumerate(candidates, 1):
            if candidate.acknowledgement and not include_acknowledgements:
                skipped_ack += 1
                continue
            if candidate.answer in known:
                already += 1
                continue
            flagged += bool(candidate.privacy_flags)
            by_flag.update(candidate.privacy_flags)
            if not dry_run:
                ids = list(candidate.message_ids)
                service.create_entry(
                    session,
                    data=EntryCreate(
                        questions=[q[:300] for q in candidate.questions if len(q.strip()) >= 2],
                        answer=candidate.answer[:20000],
                        source_title=f"历史答复（{source.name}，留言编号 {', '.join(ids[:5])}）"[
                            :300
                        ],
                    ),
                    actor=None,
                    origin="drafted",
                    origin_ref={"file": f"appeals/{source.name}", "message_ids": ids},
                )
            known.add(candidate.answer)
            created += 1
            if number % 10 == 0:
                typer.echo(f"  {number}/{len(candidates)}", err=True)
        if dry_run:
            session.rollback()
    flags = "; ".join(f"{PRIVACY_LABEL_ZH[f]} {n}" for f, n in by_flag.most_common()) or "-"
    typer.echo(
        f"{'将创建' if dry_run else '已创建'}草稿 {created} 条（其中 {flagged} 条涉及个人信息"
        f"被标记，不能审核通过）；跳过回执类 {skipped_ack} 条，已存在 {already} 条。\n"
        f"drafts {'to create' if dry_run else 'created'}: {created} ({flagged} flagged for "
        f"personal details: {flags}); acknowledgements skipped: {skipped_ack}; "
        f"already present: {already}"
    )
