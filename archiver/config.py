"""Typed, validated settings, built once at the edge and passed down.

Priority, lowest first (scrapy's order): the defaults in the models below, the
YAML file (``--config PATH``, else ``$ARCHIVER_CONFIG``, else ``./config.yaml``
when present), environment variables, then explicit overrides from the CLI.

Environment variables override single keys: ``ARCHIVER__<SECTION>__<KEY>``
(double underscores separate the levels), the value parsed as YAML, e.g.
``ARCHIVER__FETCH__TIMEOUT_S=10`` or ``ARCHIVER__RESOLVER__SHORTENERS='[goo.gl, bit.ly]'``.
``ARCHIVER__DATABASE__URL`` is the usual one for operators.

Relative paths in the file are relative to the file's folder; relative paths
from the environment or the defaults are relative to the working directory.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

ENV_PREFIX = "ARCHIVER__"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str | None = None  # None: sqlite file <storage.root>/archiver.db
    echo: bool = False


class S3Settings(_Section):
    """S3-compatible object storage (storage.url: s3://bucket/prefix). Unset keys fall back to boto3's
    usual chain: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION, ~/.aws."""

    endpoint_url: str | None = None  # None: AWS itself (or AWS_ENDPOINT_URL)
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None  # better in $AWS_SECRET_ACCESS_KEY than in a file
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    multipart_threshold: int = Field(64 << 20, ge=5 << 20)  # files larger go up in parts
    multipart_chunk: int = Field(16 << 20, ge=5 << 20)  # S3's smallest part is 5 MiB
    verify_upload: bool = True  # read each uploaded WARC back and check its sha256 before the spool copy goes


class StorageSettings(_Section):
    root: Path = Path("storage")
    # None: finished files stay under root; s3://bucket/prefix: finished WARC files, exports and the manifest
    # mirror go to object storage, and root is the local spool of the WARC files being written
    url: str | None = None
    keep_local: bool = False  # with url: keep the spool copy of each uploaded WARC file
    s3: S3Settings = S3Settings()
    warc_prefix: str = "archiver"
    warc_max_bytes: int = Field(1_000_000_000, gt=0)
    warc_gzip_level: int = Field(4, ge=1, le=9)

    @field_validator("url")
    @classmethod
    def _store_url(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not v.lower().startswith("s3://") or len(v) <= 5:
            raise ValueError("must be s3://bucket/prefix (or null: files under storage.root)")
        return v


class RequisiteSettings(_Section):
    enabled: bool = True
    max_per_page: int = Field(60, ge=0)
    max_bytes_per_page: int = Field(50_000_000, ge=0)


class FetchSettings(_Section):
    user_agent: str = "archiver/0.1 (+evidence preservation; https://github.com/archiver)"
    timeout_s: float = Field(30.0, gt=0)
    total_timeout_s: float = Field(600.0, gt=0)
    max_bytes: int = Field(2_000_000_000, gt=0)
    concurrency: int = Field(8, ge=1)
    processes: Union[Literal["auto"], Annotated[int, Field(ge=1)]] = "auto"
    per_host_concurrency: int = Field(2, ge=1)
    politeness_delay_s: float = Field(1.0, ge=0)
    allow_private_addresses: bool = False
    max_hops: int = Field(10, ge=1)
    max_attempts: int = Field(6, ge=1)
    retry_base_s: float = Field(3600.0, ge=0)
    max_retry_wait_s: float = Field(60.0, ge=0)  # 429/503 waits up to this long are waited out within the pass
    verify_tls: bool = True
    soft404_probe: bool = True  # compare each 2xx page with a random path on its host
    requisites: RequisiteSettings = RequisiteSettings()


BrowserMode = Literal["never", "auto", "always"]


class CaptureSettings(_Section):
    """When and how a page is also loaded in headless Chromium (capture/browser.py)."""

    browser: BrowserMode = "auto"  # auto: HTML targets when Chromium is installed (shells above all)
    browser_hosts: dict[str, BrowserMode] = Field(default_factory=dict)  # host (and its subdomains) -> mode
    chromium_path: Path = Path("/usr/bin/chromium")  # Debian's chromium; never a downloaded browser
    auto_screenshot: bool = True  # auto: every HTML target gets its screenshot, not only shells
    shell_text_chars: int = Field(200, ge=0)  # auto: less visible text than this + a script = a shell
    pdf: bool = False  # also print the page to PDF (a resource record)
    page_timeout_s: float = Field(60.0, gt=0)  # the whole visit of one page: load, scroll, idle, pictures
    idle_timeout_s: float = Field(5.0, ge=0)  # wait at most this long for the network to go quiet
    concurrency: int = Field(2, ge=1)  # pages open at once in the one browser
    max_requests_per_page: int = Field(500, ge=1)  # the browser's requests past this are refused
    max_resource_bytes: int = Field(50_000_000, gt=0)  # a response handed to the browser is cut here
    max_screenshot_px: int = Field(20_000, ge=900)  # a full-page screenshot is at most this tall
    memory_mb: int = Field(1024, ge=128)  # JavaScript heap ceiling per renderer (V8 max-old-space)
    viewport_width: int = Field(1366, ge=320)
    viewport_height: int = Field(900, ge=240)
    thumbnail_width: int = Field(400, ge=64)
    media: bool = False  # also fetch the page's video/audio with yt-dlp (capture/media.py; the [media] extra)
    media_max_bytes: int = Field(100_000_000, gt=0)  # a media file larger than this is not kept

    @field_validator("browser_hosts")
    @classmethod
    def _host_keys(cls, v: dict[str, str]) -> dict[str, str]:
        out = {}
        for h, mode in v.items():
            h = str(h).strip().lower()
            if not h or "/" in h or " " in h:
                raise ValueError(f"{h!r} is not a host")
            out[h] = mode
        return out


class ArchiveSource(_Section):
    name: str
    cdx_url: str
    replay_url: str
    timemap_url: str | None = None
    requests_per_s: float = Field(0.4, gt=0)

    @field_validator("replay_url")
    @classmethod
    def _placeholders(cls, v: str) -> str:
        if "{timestamp}" not in v or "{url}" not in v:
            raise ValueError("must contain {timestamp} and {url}")
        return v


class MementoSource(_Section):
    name: str
    timemap_url: str  # holds {url}
    requests_per_s: float = Field(0.4, gt=0)  # TimeMap requests; replays of its mementos up to 8/s

    @field_validator("timemap_url")
    @classmethod
    def _placeholder(cls, v: str) -> str:
        if "{url}" not in v:
            raise ValueError("must contain {url}")
        return v


# The Internet Archive's Wayback Machine, asked by default: goo.gl answers for almost none of its links since
# 2025-08-25, and the archive holds the redirects of most of them (ArchiveTeam's URLTeam crawls). Its
# published limits: ~30 CDX queries a minute (0.4/s is edgi's 80 %), 600 replays a minute (ratelimit.py).
INTERNET_ARCHIVE = {"name": "ia", "cdx_url": "https://web.archive.org/cdx/search/cdx",
                    "replay_url": "https://web.archive.org/web/{timestamp}id_/{url}",
                    "timemap_url": "https://web.archive.org/web/timemap/link/{url}", "requests_per_s": 0.4}

DEFAULT_SHORTENERS = [
    "goo.gl", "maps.app.goo.gl", "g.co", "bit.ly", "bitly.com", "j.mp", "t.co", "tinyurl.com",
    "ow.ly", "buff.ly", "is.gd", "v.gd", "fb.me", "youtu.be", "lnkd.in", "rebrand.ly",
    "cutt.ly", "shorturl.at", "tiny.cc", "rb.gy", "t.ly", "s.id", "bit.do", "trib.al", "dlvr.it",
]


class ResolverSettings(_Section):
    shorteners: list[str] = Field(default_factory=lambda: list(DEFAULT_SHORTENERS))
    archives: list[ArchiveSource] = Field(default_factory=lambda: [ArchiveSource(**INTERNET_ARCHIVE)])
    mementos: list[MementoSource] = Field(default_factory=list)
    dumps: list[Path] = Field(default_factory=list)
    overrides: Path | None = None
    archive_retry_after_s: float = Field(60.0, ge=0)  # IA sends 429 without Retry-After
    # a short link resolved from an archive after a live failure is asked live again this many
    # times, the first after live_retry_s, then doubling (resolve/recheck.py, in the watch step)
    live_retries: int = Field(6, ge=0)
    live_retry_s: float = Field(86400.0, ge=0)

    @field_validator("shorteners")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        out = []
        for h in v:
            h = h.strip().lower()
            if not h or "/" in h or " " in h:
                raise ValueError(f"{h!r} is not a host or host:port")
            out.append(h)
        return out


class IngestSettings(_Section):
    """Bounds on one report: a report over any of them is refused with one line (exit 2)."""

    max_report_bytes: int = Field(50_000_000, gt=0)  # file or download size
    max_unzipped_bytes: int = Field(100_000_000, gt=0)  # DOCX: all parts inflated (zip bombs)
    max_pdf_pages: int = Field(5_000, gt=0)
    max_activities: int = Field(100_000, gt=0)
    max_links: int = Field(100_000, gt=0)
    # processes reading a PDF's pages at once ("auto": one per core for a PDF of 100 pages or more,
    # ingest/pdf.py's PARALLEL_PAGES)
    pdf_processes: Union[Literal["auto"], Annotated[int, Field(ge=1)]] = "auto"


class ExtractSettings(_Section):
    max_text_chars: int = Field(2_000_000, gt=0)
    max_html_bytes: int = Field(20_000_000, gt=0)  # HTML is parsed whole: bigger pages are cut first
    max_pdf_bytes: int = Field(100_000_000, gt=0)  # pypdf holds much of a PDF in memory: bigger ones are not read


class WatchSettings(_Section):
    recheck_days: float = Field(7.0, gt=0)


class ScheduleSettings(_Section):
    cron: str = "0 2 * * *"
    timezone: str = "UTC"
    lock_ttl_s: float = Field(3600.0, gt=0)


class Token(_Section):
    token: str
    role: Literal["reader", "editor"] = "reader"


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    replay_port: int = Field(8001, ge=0, le=65535)
    tokens: list[Token] = Field(default_factory=list)
    allowed_hosts: list[str] = Field(default_factory=list)  # [] = derived from host (web/access.py)
    replay_grant_s: int = Field(3600, ge=60, le=7 * 86400)  # how long a replay link from the interface works


class ExportSettings(_Section):
    signing_key: Path | None = None


class WebhookSettings(_Section):
    """An HTTP POST of the pass summary as JSON (notify/webhook.py; schema in docs/notify.md)."""

    url: str | None = None  # None: no webhook
    headers: dict[str, str] = Field(default_factory=dict)  # sent with each POST (a token); never logged
    timeout_s: float = Field(10.0, gt=0)
    retries: int = Field(3, ge=0)  # after the first try, on a network error, 408, 429 or 5xx
    backoff_s: float = Field(2.0, ge=0)  # wait before retry n: backoff_s * 2**(n-1)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        from urllib.parse import urlsplit

        if v is None:
            return v
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL with a host")
        return v

    @field_validator("headers")
    @classmethod
    def _one_line(cls, v: dict[str, str]) -> dict[str, str]:
        for k, val in v.items():
            if any(c in str(k) + str(val) for c in "\r\n"):
                raise ValueError(f"header {k!r} holds a line break")
        return v


class EmailSettings(_Section):
    """The pass summary by SMTP (notify/mail.py)."""

    host: str | None = None  # None: no email
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True  # upgrade the connection with STARTTLS (port 587); refused if the server cannot
    ssl: bool = False  # TLS from the first byte (port 465) instead
    ca_file: Path | None = None  # PEM certificates to trust instead of the system's (a private relay)
    username: str | None = None
    password: str | None = None  # better: the environment variable named by password_env
    password_env: str = "ARCHIVER_SMTP_PASSWORD"  # read (as is) when password is null
    from_address: str | None = None
    to: list[str] = Field(default_factory=list)
    subject_prefix: str = "[archiver]"
    timeout_s: float = Field(30.0, gt=0)
    retries: int = Field(2, ge=0)  # after the first try, on a network error or an SMTP 4xx answer
    backoff_s: float = Field(5.0, ge=0)

    @field_validator("from_address")
    @classmethod
    def _one_address(cls, v: str | None) -> str | None:
        return v if v is None else _address(v)

    @field_validator("to")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        return [_address(a) for a in v]

    @model_validator(mode="after")
    def _complete(self):
        if self.host is not None and (not self.from_address or not self.to):
            raise ValueError("an email host needs from_address and at least one address in to")
        if self.ssl and self.starttls:
            raise ValueError("ssl and starttls exclude each other: set starttls: false with ssl: true")
        if self.username and not (self.ssl or self.starttls):
            raise ValueError("a username needs starttls or ssl: the password is never sent in clear")
        if any(c in self.subject_prefix for c in "\r\n"):
            raise ValueError("subject_prefix holds a line break")
        return self


def _address(v: str) -> str:
    """One plain address (``name@host``, or ``Name <name@host>``); no line breaks (header injection)."""
    from email.utils import parseaddr

    if any(c in v for c in "\r\n") or "@" not in parseaddr(v)[1]:
        raise ValueError(f"{v!r} is not an email address")
    return v


class NotifySettings(_Section):
    """Who hears about a pass (scheduled, or ``run --notify``): see notify/__init__.py."""

    always: bool = False  # also send when the pass changed nothing
    max_items: int = Field(100, ge=1)  # list at most this many links per kind (the totals are always given)
    # the webhook's address is held to the fetch policy; None: as fetch.allow_private_addresses
    allow_private_addresses: bool | None = None
    webhook: WebhookSettings = WebhookSettings()
    email: EmailSettings = EmailSettings()


class QueueNames(_Section):
    """One broker queue per kind of task, so that each can be given workers of its own."""

    resolve: str = "archiver.resolve"
    capture: str = "archiver.capture"
    browser: str = "archiver.browser"  # captures of targets whose host is set to capture.browser "always"
    extract: str = "archiver.extract"
    watch: str = "archiver.watch"  # nightly re-checks of captured links

    def all(self) -> tuple[str, ...]:
        """Every queue's name (the worker declares them, `status` counts them)."""
        return tuple(getattr(self, field) for field in type(self).model_fields)


class QueueSettings(_Section):
    """Workers on Celery (archiver/distributed/). ``url`` null: everything runs in-process (the default)."""

    url: str | None = None  # broker: amqp://guest@127.0.0.1// (RabbitMQ) or redis://127.0.0.1:6379/0
    # per-host slots shared by every worker (fetch.per_host_concurrency and politeness across machines);
    # null: the broker's URL when it is redis://, else per process only
    redis_url: str | None = None
    key_prefix: str = "archiver"  # of the Redis keys the host slots use
    names: QueueNames = QueueNames()
    # a live worker renews its slots every third of this; a dead worker's are free again after it
    slot_ttl_s: float = Field(30.0, gt=0)
    sweep_s: float = Field(10.0, gt=0)  # run --distributed: re-enqueue due work this long after the queues empty

    @field_validator("url", "redis_url")
    @classmethod
    def _scheme(cls, v: str | None) -> str | None:
        if v is not None and v.split("://", 1)[0] not in ("amqp", "pyamqp", "amqps", "redis", "rediss"):
            raise ValueError("must be an amqp:// or redis:// URL")
        return v

    @property
    def slots_url(self) -> str | None:
        if self.redis_url:
            return self.redis_url
        if self.url and self.url.startswith(("redis://", "rediss://")):
            return self.url
        return None


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    storage: StorageSettings = StorageSettings()
    fetch: FetchSettings = FetchSettings()
    capture: CaptureSettings = CaptureSettings()
    resolver: ResolverSettings = ResolverSettings()
    ingest: IngestSettings = IngestSettings()
    extract: ExtractSettings = ExtractSettings()
    watch: WatchSettings = WatchSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    web: WebSettings = WebSettings()
    export: ExportSettings = ExportSettings()
    notify: NotifySettings = NotifySettings()
    queue: QueueSettings = QueueSettings()
    config_path: Path | None = None  # where the settings came from, for warcinfo

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{(self.storage.root / 'archiver.db').as_posix()}"

    def redacted(self) -> dict[str, Any]:
        """The settings as plain data with secrets removed (for warcinfo and `config` output)."""
        data = self.model_dump(mode="json")
        data["web"]["tokens"] = [{"role": t["role"], "token": "***"} for t in data["web"]["tokens"]]
        url = data["database"]["url"]
        if url and "@" in url and ":" in url.split("@")[0].split("//")[-1]:
            scheme, rest = url.split("//", 1)
            data["database"]["url"] = scheme + "//***@" + rest.split("@", 1)[1]
        for key in ("url", "redis_url"):  # a broker URL may carry a password
            url = data["queue"][key]
            if url and "@" in url:
                scheme, rest = url.split("//", 1)
                data["queue"][key] = scheme + "//***@" + rest.rsplit("@", 1)[1]
        if data["storage"]["s3"]["secret_access_key"]:
            data["storage"]["s3"]["secret_access_key"] = "***"
        notify = data["notify"]
        if notify["email"]["password"]:
            notify["email"]["password"] = "***"
        notify["webhook"]["headers"] = {k: "***" for k in notify["webhook"]["headers"]}
        if notify["webhook"]["url"]:  # a webhook's path is often its secret (chat services)
            from .notify.webhook import public_origin

            notify["webhook"]["url"] = public_origin(notify["webhook"]["url"])
        return data


def _deep_merge(base: dict, extra: Mapping) -> dict:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def _env_layer(env: Mapping[str, str]) -> dict:
    layer: dict = {}
    for key, raw in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in key[len(ENV_PREFIX):].split("__") if p]
        if not parts:
            continue
        try:
            value = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        node = layer
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return layer


_PATH_KEYS = (("storage", "root"), ("capture", "chromium_path"), ("resolver", "overrides"), ("export", "signing_key"))


def _anchor_paths(data: dict, base: Path) -> dict:
    """Make relative paths from the config file relative to the file's folder."""
    for section, key in _PATH_KEYS:
        sec = data.get(section)
        if isinstance(sec, dict) and isinstance(sec.get(key), str) and not Path(sec[key]).is_absolute():
            sec[key] = str(base / sec[key])
    email = (data.get("notify") or {}).get("email") if isinstance(data.get("notify"), dict) else None
    if isinstance(email, dict) and isinstance(email.get("ca_file"), str) and not Path(email["ca_file"]).is_absolute():
        email["ca_file"] = str(base / email["ca_file"])
    res = data.get("resolver")
    if isinstance(res, dict) and isinstance(res.get("dumps"), list):
        res["dumps"] = [str(base / d) if isinstance(d, str) and not Path(d).is_absolute() else d for d in res["dumps"]]
    db = data.get("database")
    if isinstance(db, dict) and isinstance(db.get("url"), str) and db["url"].startswith("sqlite:///"):
        p = db["url"][len("sqlite:///"):]
        if p and not p.startswith("/") and p != ":memory:":
            db["url"] = "sqlite:///" + (base / p).as_posix()
    return data


def _format_error(err: ValidationError) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"config: unknown key '{key}'"
    msg = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    if isinstance(value, (dict, list, BaseModel)) or any(s in key for s in _SECRET_KEYS):
        return f"config: '{key}': {msg}"  # never echo a section (it may hold a password) or a secret
    return f"config: '{key}': {msg} (got {value!r})"


_SECRET_KEYS = ("password", "headers", "token", "webhook.url", "secret_access_key")


def find_config_path(explicit: str | os.PathLike | None, env: Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if env.get("ARCHIVER_CONFIG"):
        return Path(env["ARCHIVER_CONFIG"])
    default = Path("config.yaml")
    return default if default.is_file() else None


def load_settings(
    path: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the one Settings object. Raises ConfigError with a one-line message."""
    env = os.environ if env is None else env
    cfg_path = find_config_path(path, env)
    data: dict = {}
    if cfg_path is not None:
        if not cfg_path.is_file():
            raise ConfigError(f"config: file not found: {cfg_path}")
        try:
            loaded = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config: {cfg_path} is not valid YAML ({str(exc).splitlines()[0]})") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"config: {cfg_path} must hold a mapping of sections")
        data = _anchor_paths(loaded, cfg_path.resolve().parent)
    data = _deep_merge(data, _env_layer(env))
    if overrides:
        data = _deep_merge(data, overrides)
    if cfg_path is not None:
        data["config_path"] = str(cfg_path.resolve())
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from exc
