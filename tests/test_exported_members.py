"""The package's public surface is explicit: ``__all__`` names exactly what is exported, and it all exists."""
from __future__ import annotations

import importlib

import pytest

import archiver

EXPECTED = {"__version__", "load_settings", "Settings", "ArchiverError"}


def test_package_all_is_explicit():
    assert set(archiver.__all__) == EXPECTED
    assert len(archiver.__all__) == len(EXPECTED)  # no duplicates
    for name in archiver.__all__:
        assert getattr(archiver, name) is not None
    assert issubclass(archiver.ArchiverError, Exception)
    assert isinstance(archiver.__version__, str)


def test_star_import_gives_exactly_all():
    namespace: dict = {}
    exec("from archiver import *", namespace)
    assert {k for k in namespace if k != "__builtins__"} == EXPECTED


@pytest.mark.parametrize("module", ["archiver.ingest", "archiver.extract", "archiver.db.queries", "archiver.db.search"])
def test_subpackage_all_names_exist(module):
    mod = importlib.import_module(module)
    assert mod.__all__, module
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert not missing, f"{module}.__all__ names missing members: {missing}"
    assert len(set(mod.__all__)) == len(mod.__all__)
