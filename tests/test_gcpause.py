"""gc_paused: the collector is off inside (nested too) and back to how it was after."""
import gc

import pytest

import syncode
from syncode.gcpause import gc_paused
from syncode.schema import compiler as schema_compiler


def test_pauses_nest_and_restore_the_collector():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("a build that fails")
    assert gc.isenabled()


def test_a_collector_the_user_turned_off_stays_off():
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_schema_compile_runs_paused_and_restores(monkeypatch):
    seen = []
    real = schema_compiler.SchemaCompiler.grammar

    def spy(self):
        seen.append(gc.isenabled())
        return real(self)

    monkeypatch.setattr(schema_compiler.SchemaCompiler, "grammar", spy)
    syncode.Grammar.from_json_schema({"type": "integer"})
    assert seen == [False] and gc.isenabled()
