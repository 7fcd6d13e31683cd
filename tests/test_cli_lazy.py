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


def test_help_lists_every_command_without_importing_them():
    """`archiver --help` is start-up alone (issue 10: 1.28 s against 0.02 s for `python -c pass`)."""
    code = ("import sys, json, contextlib, io; from archiver.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out):\n"
            "    try: main(['--help'])\n"
            "    except SystemExit: pass\n"
            "print(json.dumps([out.getvalue(), sorted(m for m in sys.modules if m.split('.')[0] in "
            "('sqlalchemy', 'pydantic', 'rich', 'yaml') or m.startswith('archiver.cli.') or m == 'archiver.config')]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    text, loaded = json.loads(out.stdout)
    assert loaded == ["archiver.cli.context"]
    for name, summary in cli.SUMMARIES.items():
        assert name in text and summary.split()[0] in text


def test_the_summaries_are_each_commands_own_help():
    assert set(cli.SUMMARIES) == set(cli.COMMANDS)
    for name, module in cli.COMMANDS.items():
        command = cli._load(module)[name]
        own = " ".join((command.help or "").split())
        assert own.startswith(cli.SUMMARIES[name].rstrip(".")), (name, own)


def test_search_json_loads_neither_rich_nor_the_orm(tmp_path):
    """`archiver search --json` imports what it needs only, and reads plain rows through Core: the ORM and
    the table classes are not even imported (issue 10: 65 ms of a 0.41 s search)."""
    from tests.conftest import write_config

    config = str(write_config(tmp_path, f"sqlite:///{tmp_path / 'a.db'}"))
    subprocess.run([sys.executable, "-m", "archiver", "--config", config, "init"], capture_output=True, check=True)
    code = ("import sys, json, contextlib, io; from archiver.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: main(['--config', %r, 'search', 'water', '--json'])\n"
            "    except SystemExit as e: assert not e.code, e.code\n"
            "print(json.dumps([sorted(m for m in sys.modules if m in ('sqlalchemy.orm', 'archiver.db.tables', "
            "'archiver.db.base')), sorted({m.split('.')[0] for m in sys.modules} & "
            "{'rich', 'alembic', 'fastapi', 'warcio', 'requests'})]))") % config
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout) == [[], []]


def test_a_commands_help_imports_no_database_layer():
    """`archiver search --help` answers without SQLAlchemy (issue 10's start-up; cli/output.py once
    imported it at the top for a date helper, and `search --help` went from 0.16 s to 0.38 s)."""
    code = ("import sys, json, contextlib, io; from archiver.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try: main(['search', '--help'])\n"
            "    except SystemExit: pass\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'sqlalchemy'"
            " or m.startswith('archiver.db'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
