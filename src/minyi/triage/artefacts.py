"""The versioned model store: `<models_dir>/<version>/model.joblib` + `meta.json`, and a
`latest` file naming the version in use.

A version is never changed once written; training writes a new directory and then
replaces `latest` atomically, so a serving process either sees the old model or the new
one. `get_model` loads once per process and again only when `latest` changes (one `stat`
per call), so a `minyi model train` reaches running servers without a restart.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from minyi.core.config import Settings

MODEL_FILE = "model.joblib"
META_FILE = "meta.json"
LATEST_FILE = "latest"


@dataclass
class TriageModel:
    version: str
    classifier: Any  # classifier.TextClassifier
    ranker: Any | None  # items.ItemRanker
    meta: dict[str, Any] = field(default_factory=dict)


def new_version(data_sha256: str, created: datetime) -> str:
    """`20261122T0215-1a2b3c4d`: when it was trained (UTC) and which data it saw."""
    return f"{created:%Y%m%dT%H%M}-{data_sha256[:8]}"


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(bundle: TriageModel, models_dir: Path) -> Path:
    """Write a new version directory and point `latest` at it; returns the directory. A
    version trained twice in the same minute from the same data gets a suffix."""
    import joblib

    models_dir.mkdir(parents=True, exist_ok=True)
    version = bundle.version
    n = 1
    while (models_dir / version).exists():
        n += 1
        version = f"{bundle.version}-{n}"
    if version != bundle.version:
        bundle.version = version
        bundle.meta["version"] = version
        if hasattr(bundle.classifier, "version"):
            bundle.classifier.version = version
    staging = Path(tempfile.mkdtemp(dir=models_dir, prefix=f".{version}."))
    # mkdtemp makes it private; the server may run as another user than the trainer.
    staging.chmod(0o755)
    joblib.dump(bundle, staging / MODEL_FILE)
    meta = dict(bundle.meta)
    meta["size_bytes"] = (staging / MODEL_FILE).stat().st_size
    (staging / META_FILE).write_text(
        json.dumps(meta, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    target = models_dir / version
    staging.rename(target)
    _write_atomic(models_dir / LATEST_FILE, f"{version}\n".encode())
    return target


def load_model(directory: Path) -> TriageModel:
    import joblib

    bundle = joblib.load(directory / MODEL_FILE)
    if not isinstance(bundle, TriageModel):
        raise TypeError(f"{directory / MODEL_FILE} does not hold a TriageModel")
    return bundle


def latest_version(models_dir: Path) -> str | None:
    try:
        version = (models_dir / LATEST_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return version or None


def load_latest(models_dir: Path) -> TriageModel | None:
    """The version `latest` names, or None when nothing has been trained."""
    version = latest_version(models_dir)
    if version is None or not (models_dir / version / MODEL_FILE).is_file():
        return None
    return load_model(models_dir / version)


_lock = threading.Lock()
_cache: dict[Path, tuple[tuple[int, int, int], TriageModel | None]] = {}


def _stamp(models_dir: Path) -> tuple[int, int, int]:
    try:
        st = (models_dir / LATEST_FILE).stat()
    except FileNotFoundError:
        return (0, 0, 0)
    return (st.st_mtime_ns, st.st_ino, st.st_size)


def get_model(settings: Settings) -> TriageModel | None:
    """The process's model: loaded on first use, reloaded when `latest` is replaced."""
    models_dir = settings.models_dir.resolve()
    stamp = _stamp(models_dir)
    cached = _cache.get(models_dir)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    with _lock:
        cached = _cache.get(models_dir)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        model = load_latest(models_dir)
        _cache[models_dir] = (stamp, model)
        return model


def clear_cache() -> None:
    with _lock:
        _cache.clear()
