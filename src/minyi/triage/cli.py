"""`minyi model train|eval|predict`: the triage model's command line (SPEC §6).

Progress goes to stderr, results to stdout, so `predict` and `eval --json` can be piped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from minyi.core.config import get_settings
from minyi.core.errors import DomainError

model_app = typer.Typer(help="The triage model: train, evaluate, predict", no_args_is_help=True)

NO_MODEL_EXIT = 2


def _progress(line: str) -> None:
    typer.echo(f"… {line}", err=True)


def _examples() -> list[Any]:
    """The dispatchers' confirmations and corrections, when the database is reachable."""
    from minyi.core.db import session_scope
    from minyi.triage.training import read_examples

    try:
        with session_scope() as session:
            return read_examples(session)
    except Exception as exc:  # no database or no table yet: train without examples
        _progress(f"未读取到派单样本 / no stored examples read ({type(exc).__name__})")
        return []


@model_app.command()
def train(
    shared_data: Path | None = typer.Option(None, help="Real data (default MINYI_SHARED_DATA)"),
    models_dir: Path | None = typer.Option(None, help="Model store (default MINYI_MODELS_DIR)"),
    items: bool = typer.Option(True, help="Build the DB44 item ranker (needs the catalogue)"),
    examples: bool = typer.Option(True, help="Use the stored dispatcher examples"),
) -> None:
    """Train a new model version from train.csv (+ stored examples) and make it the latest."""
    from minyi.triage.artefacts import save_model
    from minyi.triage.training import train_model

    settings = get_settings()
    data = shared_data or settings.shared_data
    store = models_dir or settings.models_dir
    if not (data / "appeals" / "train.csv").is_file():
        typer.echo(f"找不到训练数据 / training data not found: {data}/appeals/train.csv", err=True)
        raise typer.Exit(NO_MODEL_EXIT)
    stored = _examples() if examples else []
    try:
        bundle = train_model(data, examples=stored, with_ranker=items, progress=_progress)
    except DomainError as exc:
        typer.echo(f"{exc.message} / {exc.message_en}", err=True)
        typer.echo("（可用 --no-items 只训练一级分类 / use --no-items to skip items）", err=True)
        raise typer.Exit(NO_MODEL_EXIT) from exc
    target = save_model(bundle, store)
    m = bundle.meta["metrics"]
    typer.echo(f"version {bundle.version}")
    typer.echo(f"saved   {target}")
    typer.echo(
        f"CV (train.csv, 5 folds): accuracy {m['cv_accuracy']}, macro-F1 {m['cv_macro_f1']}, "
        f"calibration {m['calibration']}, auto threshold {m['auto_threshold']} "
        f"(share {m['cv_auto_share']}, accuracy {m['cv_auto_accuracy']})"
    )
    typer.echo(f"items: {bundle.meta['ranker']}")


@model_app.command("eval")
def evaluate(
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout"),
    shared_data: Path | None = typer.Option(None, help="Real data (default MINYI_SHARED_DATA)"),
) -> None:
    """Train on train.csv in memory and report on test.csv, the baseline beside it."""
    from minyi.triage.evaluation import evaluate as run

    figures = run(shared_data or get_settings().shared_data, progress=_progress)
    if as_json:
        typer.echo(json.dumps(figures, ensure_ascii=False))
        return
    typer.echo(_table(figures))


def _table(f: dict[str, Any]) -> str:
    b = f["baseline"]
    t, bt = f["throughput_per_s"], b["throughput_per_s"]
    auto = f["auto_dispatch"]
    lines = [
        f"{'':24}{'Minyi':>12}{'baseline':>12}",
        f"{'accuracy':24}{f['accuracy']:>12}{b['accuracy']:>12}",
        f"{'macro-F1':24}{f['macro_f1']:>12}{b['macro_f1']:>12}",
        f"{'messages/s (batch 1)':24}{t['batch_1']:>12}{bt['batch_1']:>12}",
        f"{'messages/s (batch 256)':24}{t['batch_256']:>12}{bt['batch_256']:>12}",
        f"{'per CPU-second (256)':24}{t['cpu_time_batch_256']:>12}{bt['cpu_time_batch_256']:>12}",
        "",
        f"top-3 accuracy {f['top3_accuracy']}, ECE {f['ece']} ({f['calibration']['method']})",
        f"auto-dispatch at >= {auto['threshold']}: share {auto['share']}, "
        f"accuracy {auto['accuracy']}",
        f"model {f['model_size_mb']} MB, load {f['load_seconds']} s",
        "",
        f"{'label':16}{'precision':>10}{'recall':>10}{'F1':>10}{'n':>6}",
    ]
    for lab, c in f["per_class"].items():
        lines.append(f"{lab:16}{c['precision']:>10}{c['recall']:>10}{c['f1']:>10}{c['support']:>6}")
    if "items" in f:
        lines += ["", f"items: {json.dumps(f['items'], ensure_ascii=False)[:400]}"]
    return "\n".join(lines)


def _error(code: str, message: str, message_en: str) -> dict[str, str]:
    return {"code": code, "message": message, "message_en": message_en}


@model_app.command()
def predict(
    model_dir: Path | None = typer.Option(
        None, help="Model store or one version's directory (default MINYI_MODELS_DIR)"
    ),
) -> None:
    """JSON lines {"id","text"} on stdin → JSON lines {"id","label","confidence","top3",
    "item","item_top5"} on stdout; a bad line gets an error object and the rest go on."""
    from minyi.triage.artefacts import MODEL_FILE, load_latest, load_model

    store = model_dir or get_settings().models_dir
    bundle = load_model(store) if (store / MODEL_FILE).is_file() else load_latest(store)
    if bundle is None:
        typer.echo(
            f"尚未训练模型，请先运行 minyi model train / no trained model in {store}: "
            "run `minyi model train` first",
            err=True,
        )
        raise typer.Exit(NO_MODEL_EXIT)
    for line in sys.stdin:
        if not line.strip():
            continue
        out = _predict_line(bundle, line)
        sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def _predict_line(bundle: Any, line: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError:
        return {
            "id": None,
            "error": _error("invalid_json", "该行不是有效的 JSON", "the line is not valid JSON"),
        }
    if not isinstance(item, dict):
        return {
            "id": None,
            "error": _error(
                "invalid_line", "每行应为一个 JSON 对象", "each line must be an object"
            ),
        }
    ident = item.get("id")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        return {
            "id": ident,
            "error": _error(
                "missing_text", "缺少诉求文本 text", "the line has no non-empty string 'text'"
            ),
        }
    (p,) = bundle.classifier.predict([text])
    top5: list[dict[str, Any]] = []
    if bundle.ranker is not None:
        top5 = [
            {"code": c.code, "path": c.path, "name": c.name, "score": round(c.score, 4)}
            for c in bundle.ranker.rank(text, p.probabilities, k=5)
        ]
    return {
        "id": ident,
        "label": p.label,
        "confidence": round(p.confidence, 4),
        "top3": [[lab, round(prob, 4)] for lab, prob in p.top3],
        "item": top5[0]["code"] if top5 else None,
        "item_top5": top5,
    }
