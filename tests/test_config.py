from pathlib import Path

import pytest
import yaml

from archiver.config import Settings, load_settings
from archiver.errors import ConfigError
from tests.conftest import REPO, run_cli


def _flatten(d, prefix=""):
    for k, v in d.items():
        if isinstance(v, dict) and v and k not in ("database",) or (isinstance(v, dict) and k == "database"):
            yield from _flatten(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}"


def test_shipped_config_yaml_holds_every_default():
    shipped = load_settings(REPO / "config.yaml", env={})
    defaults = Settings()
    a = shipped.model_dump(mode="json")
    b = defaults.model_dump(mode="json")
    # storage.root differs only by being anchored to the repo folder
    assert Path(a["storage"].pop("root")) == REPO / "storage"
    b["storage"].pop("root")
    a.pop("config_path"), b.pop("config_path")
    assert a == b
    keys_in_file = set(_flatten(yaml.safe_load((REPO / "config.yaml").read_text())))
    keys_in_model = set(_flatten(b))
    assert keys_in_model <= keys_in_file | {"storage.root"}


def test_interface_keys_exist():
    s = Settings()
    for dotted in ["database.url", "storage.root", "fetch.user_agent", "fetch.timeout_s", "fetch.max_bytes",
                   "fetch.concurrency", "fetch.per_host_concurrency", "fetch.allow_private_addresses",
                   "resolver.shorteners", "resolver.archives", "resolver.dumps", "schedule.cron",
                   "schedule.timezone"]:
        obj = s
        for part in dotted.split("."):
            obj = getattr(obj, part)
    assert s.fetch.allow_private_addresses is False
    assert "goo.gl" in s.resolver.shorteners


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    (tmp_path / "sub").mkdir()
    cfg = tmp_path / "sub" / "c.yaml"
    cfg.write_text("storage: {root: data}\nresolver: {dumps: [d/x.txt]}\ndatabase: {url: 'sqlite:///db/a.db'}\n")
    s = load_settings(cfg, env={})
    assert s.storage.root == tmp_path / "sub" / "data"
    assert s.resolver.dumps == [tmp_path / "sub" / "d" / "x.txt"]
    assert s.database_url == f"sqlite:///{(tmp_path / 'sub' / 'db' / 'a.db').as_posix()}"


def test_env_overrides_single_keys(tmp_path):
    s = load_settings(None, env={"ARCHIVER__FETCH__TIMEOUT_S": "7.5",
                                  "ARCHIVER__RESOLVER__SHORTENERS": "[goo.gl, 'localhost:8080']"})
    assert s.fetch.timeout_s == 7.5
    assert s.resolver.shorteners == ["goo.gl", "localhost:8080"]


def test_archiver_config_env_selects_file(tmp_path):
    cfg = tmp_path / "x.yaml"
    cfg.write_text("fetch: {concurrency: 3}\n")
    assert load_settings(None, env={"ARCHIVER_CONFIG": str(cfg)}).fetch.concurrency == 3


@pytest.mark.parametrize("body,needle", [
    ("fetch: {timeoutt: 3}\n", "fetch.timeoutt"),
    ("fetch: {timeout_s: fast}\n", "fetch.timeout_s"),
    ("fetch: {concurrency: 0}\n", "fetch.concurrency"),
    ("resolver: {archives: [{name: a, cdx_url: x, replay_url: 'nope'}]}\n", "resolver.archives.0.replay_url"),
    ("bogus: 1\n", "bogus"),
    ("- a\n- b\n", "mapping"),
    ("fetch: [unclosed\n", "not valid YAML"),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path, body, needle):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(body)
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg, env={})
    assert needle in str(exc.value)
    r = run_cli(["init"], cfg)
    assert r.code == 2
    assert needle in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err


def test_missing_config_file(tmp_path):
    r = run_cli(["init"], tmp_path / "nope.yaml")
    assert r.code == 2 and "not found" in r.err


def test_redacted_hides_secrets():
    # distinctive values: the key `storage.s3.secret_access_key` itself holds the word "secret"
    s = Settings.model_validate({"database": {"url": "postgresql+psycopg://u:pw-x7q@h/db"},
                                 "web": {"tokens": [{"token": "abc", "role": "editor"}]},
                                 "storage": {"url": "s3://b/p", "s3": {"secret_access_key": "sk-9zz"}}})
    red = s.redacted()
    assert "pw-x7q" not in str(red) and "abc" not in str(red) and "sk-9zz" not in str(red)
    assert red["storage"]["s3"]["secret_access_key"] == "***"


def test_storage_url_must_be_s3(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("storage:\n  url: ftp://x/y\n", encoding="utf-8")
    r = run_cli(["init"], cfg)
    assert r.code == 2 and "storage.url" in r.err and "s3://bucket/prefix" in r.err and "Traceback" not in r.err
