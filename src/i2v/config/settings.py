"""Settings: every knob, read from ``I2V_*`` environment variables and an optional ``.env``.

Build one :class:`Settings` at program start (``load_settings()``) and pass it
down; nothing in i2v reads the environment anywhere else.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from i2v.config.essentials import (
    ENV_PREFIX,
    clean_database_url,
    default_data_dir,
    resolve_database_url,
)
from i2v.errors import ConfigError
from i2v.jobs import Resolution

__all__ = ["ENV_PREFIX", "Settings", "default_data_dir", "load_settings", "mask_url"]

EngineName = Literal["auto", "kenburns", "diffusers"]
#: What I2V_MEMORY_PLAN accepts: auto, a name from before plans were combinations, or a full
#: plan name ``weights-placement-vae`` (i2v.engine.plans, which tests that the two agree).
MEMORY_PLAN_PATTERN = (
    r"^(auto|none|model_offload|group_offload|sequential_offload"
    r"|(bf16|fp8)-(all|dit|model|group|grouplow|sequential)-(full|tiled|framewise))$"
)


def mask_url(url: str) -> str:
    """Hide the password in a database URL, for messages and logs."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def _split_ids(value: object) -> object:
    """Accept ``"1, 2,3"`` (env style) as well as a list of ids."""
    if isinstance(value, str):
        return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
    return value


#: Settings whose values are secrets: never echoed in an error message.
SECRET_SETTINGS = frozenset(
    {"telegram_token", "telegram_webhook_secret", "api_token", "api_tokens", "api_metrics_token"}
)
#: The client name I2V_API_TOKEN stands for; it is an admin.
LEGACY_CLIENT = "admin"
_CLIENT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _client_tokens(value: object) -> object:
    """Parse ``"alice:<token>,ci:<token>"`` into names and tokens; refuse what cannot work."""
    if not isinstance(value, str):
        return value
    clients: dict[str, str] = {}
    for part in value.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, colon, token = part.strip().partition(":")
        if not colon or not _CLIENT_NAME.fullmatch(name):
            raise ValueError(
                "write each client as name:token, the name in letters, digits, '.', '_' or '-' "
                f"(got a part starting {name[:12]!r})"
            )
        if not token.strip():
            raise ValueError(f"the token of {name!r} is empty or only spaces")
        if name in clients:
            raise ValueError(f"the client {name!r} is named twice")
        if token in clients.values():
            raise ValueError(f"the client {name!r} has the same token as another client")
        clients[name] = token
    return clients


class Settings(BaseSettings):
    """All i2v settings. Each field is the environment variable ``I2V_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    # --- storage -----------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Folder for the SQLite database, logs and cached files.",
    )
    database_url: str | None = Field(
        default=None,
        description="Job database. Empty: SQLite in the data folder. "
        "Several machines: postgresql+psycopg://user:password@host/db.",
    )
    keep_results_days: float = Field(
        default=7, gt=0, description="Days to keep finished videos before purging them."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="How much the programs log."
    )

    # --- video defaults ------------------------------------------------------------
    resolution: Resolution = Field(
        default=Resolution.P720, description="Default video size: 480p, 720p or 1080p (short side)."
    )
    duration_seconds: float = Field(
        default=6.0, ge=1.0, le=10.0, description="Default video length in seconds (1-10)."
    )
    fps: int | None = Field(
        default=None, ge=1, le=60, description="Frames per second. Empty: the model's own rate."
    )
    steps: int | None = Field(
        default=None, ge=1, le=200, description="Denoising steps. Empty: the model's default."
    )
    seed: int | None = Field(
        default=None, ge=0, description="Random seed. Empty: a new seed for every job."
    )
    max_prompt_chars: int = Field(
        default=1000, ge=1, description="Longest prompt accepted, in characters."
    )
    max_image_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="Largest photo file accepted, in bytes."
    )
    max_image_pixels: int = Field(
        default=50_000_000, ge=1, description="Largest photo accepted, in pixels (width x height)."
    )
    min_image_side: int = Field(
        default=16, ge=1, description="Smallest photo side accepted, in pixels."
    )

    # --- engine --------------------------------------------------------------------
    engine: EngineName = Field(
        default="auto",
        description="auto (AI model when a GPU and weights are there, else kenburns), "
        "kenburns or diffusers.",
    )
    model: str = Field(
        default="ltx-video",
        description="Model preset (ltx-video: the 8-step distilled LTX-Video on cards up to "
        "16 GB, the 50-step model above; ltx-video-distilled; ltx-video-quality: the 50-step "
        "model; wan2.2-ti2v-5b, cogvideox-5b-i2v, svd-xt), a Hugging Face repo id, or a local "
        "diffusers folder.",
    )
    memory_plan: str = Field(
        default="auto",
        description="GPU memory plan: auto (chosen from free VRAM and RAM), or a plan name "
        "weights-placement-vae such as fp8-dit-framewise (weights bf16 or fp8; placement all, "
        "dit, model, group, grouplow or sequential; VAE full, tiled or framewise); the older "
        "none, model_offload, group_offload and sequential_offload still work.",
    )
    gpu_memory_fraction: float = Field(
        default=0.95,
        ge=0.0,
        le=1.0,
        description="Cap on the share of VRAM one worker may use, so a too-big job fails "
        "cleanly instead of spilling into system memory. 0 turns the cap off.",
    )
    max_video_mb: float = Field(
        default=45.0,
        gt=0,
        description="Largest MP4 to produce; bigger ones are re-encoded smaller.",
    )
    engine_factory: str = Field(
        default="i2v.engine.factory:build_engine",
        description="Function (package.module:function) that builds the engine from these "
        "settings, inside the worker's GPU process. Change it only to plug in your own engine.",
    )

    # --- time model ----------------------------------------------------------------
    wakeup_safety_poll_seconds: float = Field(
        default=5,
        ge=0.1,
        le=60,
        description=(
            "Idle workers, the bot and the API wait for change notifications; they also look "
            "this often, so a lost notification costs seconds, not a job."
        ),
    )
    worker_heartbeat_seconds: float = Field(
        default=10, gt=0, description="How often a worker renews the lease on its job."
    )
    worker_lease_seconds: float = Field(
        default=60,
        gt=0,
        description="A job whose worker has not renewed its lease for this long goes back "
        "to the queue.",
    )
    stall_timeout_seconds: float = Field(
        default=180,
        gt=0,
        description="Least time without any progress before a running job counts as stalled "
        "(it grows to 5x the slowest normal step).",
    )
    model_load_timeout_seconds: float = Field(
        default=900,
        gt=0,
        description="Time allowed to load (or first download) a model; separate from any "
        "job's budget.",
    )
    min_job_seconds: float = Field(
        default=900, gt=0, description="Floor of a job's run-time cap (3x ETA + 2 min)."
    )
    max_job_seconds: float = Field(
        default=3600, gt=0, description="Ceiling of a job's run-time cap (3x ETA + 2 min)."
    )
    queue_ttl_seconds: float = Field(
        default=86400, gt=0, description="A job that waits longer than this to start expires."
    )
    max_attempts: int = Field(
        default=3, ge=1, le=20, description="Tries per job before it fails for good."
    )
    cancel_grace_seconds: float = Field(
        default=10,
        gt=0,
        description="After a cooperative cancel, time to wait before the worker's GPU process "
        "is killed.",
    )
    stop_grace_seconds: float = Field(
        default=120,
        ge=0,
        description="On a graceful stop, time a running job gets to finish before it is put "
        "back in the queue.",
    )
    eta_prior_seconds: float = Field(
        default=120, gt=0, description="Expected job time before any job has been measured."
    )

    # --- telegram ------------------------------------------------------------------
    telegram_token: SecretStr | None = Field(
        default=None, description="Bot token from @BotFather. Empty: no bot."
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org",
        description="Bot API server; a self-hosted one allows uploads up to 2000 MB.",
    )
    telegram_allowed_users: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Telegram user ids allowed to use the bot. Empty: everyone.",
    )
    telegram_admins: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Telegram user ids that may use /gpu and /workers."
    )
    telegram_max_active_jobs: int = Field(
        default=2, ge=1, description="Queued or running jobs one user may have at once."
    )
    telegram_daily_quota: int = Field(
        default=0, ge=0, description="Jobs one user may start per day. 0: no quota."
    )
    telegram_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Models users may choose in the bot's /settings (comma-separated presets or "
        "repo ids). Empty or one: no choice, the worker's model.",
    )
    telegram_webhook_url: str | None = Field(
        default=None, description="Public HTTPS URL for webhook mode. Empty: long polling."
    )
    telegram_webhook_listen: str = Field(
        default="127.0.0.1:8081", description="host:port the webhook server listens on."
    )
    telegram_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Secret Telegram sends with each webhook call. Empty: a random one per start.",
    )

    # --- http api ------------------------------------------------------------------
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    api_port: int = Field(default=8000, ge=1, le=65535, description="Port of the HTTP API.")
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of the API's admin client (named admin). Required off "
        "loopback, unless I2V_API_TOKENS names clients; at least 32 characters there.",
    )
    api_tokens: Annotated[dict[str, SecretStr], NoDecode] = Field(
        default_factory=dict,
        description="Named API clients as name:token pairs (comma-separated), e.g. "
        "alice:<token>,ci:<token>. Each client sees and cancels only its own jobs.",
    )
    api_admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Names from I2V_API_TOKENS that are admins: they see and cancel every job "
        "(the bot's and the CLI's too). I2V_API_TOKEN is always an admin.",
    )
    api_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Extra names the API answers to without a token (the Host header), besides "
        "the address it listens on, localhost, 127.0.0.1 and ::1. Guards against DNS rebinding.",
    )
    api_metrics_token: SecretStr | None = Field(
        default=None,
        description="A read-only token that may scrape /metrics and nothing else, never rate "
        "limited. Empty: /metrics takes the API tokens (and needs none on loopback).",
    )
    api_photo_checks: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Photos the API decodes and checks at once; more uploads wait their turn, "
        "so a burst of huge photos cannot take all memory.",
    )
    api_max_streams: int = Field(
        default=200, ge=1, description="Live event streams (SSE) the API keeps open in total."
    )
    api_max_streams_per_client: int = Field(
        default=8, ge=1, description="Live event streams (SSE) one API client may keep open."
    )
    api_max_body_bytes: int = Field(
        default=25 * 1024 * 1024,
        ge=1024,
        description="Largest HTTP request body the API accepts, in bytes (a photo plus its form).",
    )
    api_rate_limit_per_second: float = Field(
        default=20.0,
        ge=0,
        description="Requests per second one API token (or, without a token, one client "
        "address) may make on average. 0 turns the limit off.",
    )
    api_rate_limit_burst: int = Field(
        default=100, ge=1, description="Requests one API client may make at once above that rate."
    )
    api_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins allowed to call the API from a browser (comma-separated). "
        "Empty: CORS off.",
    )

    @field_validator("memory_plan")
    @classmethod
    def _known_memory_plan(cls, value: str) -> str:
        if re.fullmatch(MEMORY_PLAN_PATTERN, value) is None:
            raise ValueError(
                "choose auto, or a plan named weights-placement-vae such as fp8-dit-framewise "
                "(weights: bf16 or fp8; placement: all, dit, model, group, grouplow or "
                "sequential; vae: full, tiled or framewise)"
            )
        return value

    @field_validator("telegram_allowed_users", "telegram_admins", mode="before")
    @classmethod
    def _parse_ids(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("api_cors_origins", "api_admins", "api_allowed_hosts", mode="before")
    @classmethod
    def _parse_origins(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("api_token", "api_metrics_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or value.get_secret_value() == "":
            return None
        if not value.get_secret_value().strip():
            raise ValueError("is only spaces; set a long random secret or leave it empty")
        return value

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _parse_tokens(cls, value: object) -> object:
        return _client_tokens(value)

    @field_validator("telegram_models", mode="before")
    @classmethod
    def _parse_models(cls, value: object) -> object:
        return _split_ids(value)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        return clean_database_url(value)

    @model_validator(mode="after")
    def _check_relations(self) -> Settings:
        if self.worker_lease_seconds <= self.worker_heartbeat_seconds * 2:
            raise ValueError(
                "I2V_WORKER_LEASE_SECONDS must be more than twice I2V_WORKER_HEARTBEAT_SECONDS "
                f"(lease {self.worker_lease_seconds:g}, heartbeat {self.worker_heartbeat_seconds:g})"
            )
        if self.max_job_seconds < self.min_job_seconds:
            raise ValueError(
                "I2V_MAX_JOB_SECONDS must be at least I2V_MIN_JOB_SECONDS "
                f"(max {self.max_job_seconds:g}, min {self.min_job_seconds:g})"
            )
        unknown = sorted(set(self.api_admins) - set(self.api_tokens) - {LEGACY_CLIENT})
        if unknown:
            raise ValueError(
                f"I2V_API_ADMINS names {', '.join(unknown)}, which I2V_API_TOKENS does not define"
            )
        if self.api_token is not None and LEGACY_CLIENT in self.api_tokens:
            raise ValueError(
                f"I2V_API_TOKEN is the client named {LEGACY_CLIENT!r}; "
                "I2V_API_TOKENS may not define that name too"
            )
        return self

    @property
    def database_url_resolved(self) -> str:
        """The database URL to connect to (SQLite in the data folder when unset)."""
        return resolve_database_url(self.database_url, self.data_dir)


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise ConfigError with one readable line if bad."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        # pydantic-settings opens ./.env itself; a file we may not read is a setup mistake.
        if isinstance(exc, UnicodeDecodeError):
            why, fix = "it is not UTF-8 text", "save it as UTF-8"
        else:
            why, fix = (exc.strerror or "unreadable").lower(), "fix its permissions"
        raise ConfigError(
            f"cannot read the settings file {Path('.env').absolute()} ({why}); {fix} or remove it"
        ) from None


def describe_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's report into one line naming each bad setting and what is allowed."""
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if p != "__root__"]
        message = str(error["msg"]).removeprefix("Value error, ")
        if loc:
            name = ENV_PREFIX + loc[0].upper()
            got = error.get("input")
            # A secret's value never reaches a message, however wrong it is.
            secret = loc[0] in SECRET_SETTINGS
            shown = (
                ""
                if secret or isinstance(got, dict) or got is None
                else f" (got {str(got)[:60]!r})"
            )
            parts.append(f"{name}: {message}{shown}")
        else:
            parts.append(message)
    return "invalid setting: " + "; ".join(parts)
