"""The CLI imports a command's module only when that command runs (start-up time of every pass)."""
import json
import subprocess
import sys

import typer

from archiver import cli


def test_the_command_map_names_exactly_what_each_module_registers():
    for module in set(cli.COMMANDS.values()):
        sub = typer.Typer()
        __import__(f"archiver.cli.{module}", fromlist=["register"]).register(sub)
        names = set(typer.main.get_group(sub).commands)
        assert names == {c for c, m in cli.COMMANDS.items() if m == module}, module


def test_run_does_not_load_what_other_commands_need():
    code = ("import sys, json; from archiver.cli import _load; _load('run'); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'apscheduler', 'wacz', "
            "'surt', 'fastapi', 'dateparser', 'docx', 'pypdf') or m.startswith(('archiver.ingest', 'archiver.export', "
            "'archiver.web')))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_every_command_is_still_listed_and_runs(tmp_path):
    from tests.conftest import run_cli

    r = run_cli(["--help"])
    assert r.code == 0 and all(name in r.out for name in cli.COMMANDS)
    r = run_cli(["--config", str(tmp_path / "none.yaml"), "nosuch"])
    assert r.code == 2 and "No such command" in r.err
