"""One place that reads the environment: every setting is `MINYI_<NAME>`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MINYI_", extra="ignore")

    database_url: str = "sqlite:///./var/minyi.sqlite3"
    files_dir: Path = Path("./var/files")
    shared_data: Path = Path("../shared/data")
    # Trained triage models, one directory per version (`minyi model train`).
    models_dir: Path = Path("./var/models")
    # Staff bearer tokens live this long; a shift is 8 hours, so a token outlives one shift.
    token_ttl_minutes: int = 12 * 60
    timezone: str = "Asia/Shanghai"
    # How many times one unit may return (退单) one ticket before only a ruling decides.
    return_limit: int = 2
    sql_echo: bool = False
    # argon2id cost (RFC 9106's second recommended option by default). Tests lower it to
    # keep the suite fast; production keeps the default.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    # Triage: whether a confident, owned, located appeal goes to its unit without a
    # dispatcher, and from which item score (unset: the threshold the model was evaluated at).
    triage_enabled: bool = True
    triage_auto_dispatch: bool = True
    triage_auto_item_threshold: float | None = None
    # Notification channels (docs/notify-gateway.md). A channel left unset sends its
    # messages to the log channel (a file line and the in-app inbox) instead.
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    wechat_gateway_url: str | None = None
    wechat_gateway_token: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "minyi@localhost"
    notify_log_path: Path = Path("./var/notify.log")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
