"""``[runtime]`` of gateway.toml: gc freeze / thresholds and the GIL switch interval."""

from __future__ import annotations

import gc
import sys

import pytest

from lantian.errors import ConfigurationError
from lantian.hj212.gwruntime import RuntimeSettings, apply_runtime
from lantian.hj212.gwsettings import load_settings


@pytest.fixture
def restore_runtime():
    """Put the test process's gc and switch interval back as they were."""
    th, sw = gc.get_threshold(), sys.getswitchinterval()
    yield
    gc.unfreeze()
    gc.set_threshold(*th)
    sys.setswitchinterval(sw)


def test_packaged_settings_freeze_and_raise_the_oldest_threshold():
    rt = load_settings().runtime
    assert rt.gc_freeze is True
    assert rt.gc_threshold == (700, 10, 1000)
    assert rt.switch_interval_s is None  # Python's own 5 ms (measured, RESULTS.md session 6)


def test_apply_runtime_sets_what_is_asked(restore_runtime):
    before = ["at start-up", []]  # tracked by gc, alive at the freeze
    done = apply_runtime(RuntimeSettings(gc_freeze=True, gc_threshold=(900, 11, 123),
                                         switch_interval_s=0.002))
    assert done["gc_frozen_objects"] > 0 and gc.get_freeze_count() > 0
    assert gc.get_threshold() == (900, 11, 123)
    assert sys.getswitchinterval() == pytest.approx(0.002)
    after = ["after", []]
    ids = {id(o) for o in gc.get_objects()}  # the collected generations only
    assert id(before) not in ids  # frozen: out of every later collection
    assert id(after) in ids
    assert before[0] == "at start-up"


def test_apply_runtime_defaults_change_nothing(restore_runtime):
    th, sw = gc.get_threshold(), sys.getswitchinterval()
    frozen = gc.get_freeze_count()
    assert apply_runtime(RuntimeSettings()) == {"gc_frozen_objects": 0}
    assert gc.get_threshold() == th and sys.getswitchinterval() == sw
    assert gc.get_freeze_count() == frozen


def test_cycles_created_after_the_freeze_are_still_collected(restore_runtime):
    import weakref

    apply_runtime(RuntimeSettings(gc_freeze=True, gc_threshold=(700, 10, 1000)))

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a reference cycle made after start-up
    probe = weakref.ref(a)
    del a, b
    gc.collect()  # what the young/full collections do, explicitly here
    assert probe() is None


@pytest.mark.parametrize(("text", "needle"), [
    ("gc_threshold = [700, -1]", "gc_threshold"),
    ("gc_threshold = 700", "gc_threshold"),
    ("switch_interval_s = 0", "switch_interval_s"),
    ("gc_freez = true", "unknown [runtime] keys"),
])
def test_bad_runtime_settings_are_refused(tmp_path, text, needle):
    from importlib import resources

    base = resources.files("lantian.catalog").joinpath("data/gateway.toml").read_text("utf-8")
    body = base.split("\n[runtime]")[0] + "\n[runtime]\n" + text + "\n"
    p = tmp_path / "gw.toml"
    p.write_text(body, "utf-8")
    with pytest.raises(ConfigurationError, match=needle.replace("[", r"\[")):
        load_settings(p)


def test_settings_without_runtime_section_leave_python_alone(tmp_path):
    from importlib import resources

    base = resources.files("lantian.catalog").joinpath("data/gateway.toml").read_text("utf-8")
    head, _, tail = base.partition("\n[runtime]")
    rest = tail.split("\n[", 1)
    p = tmp_path / "gw.toml"
    p.write_text(head + ("\n[" + rest[1] if len(rest) > 1 else "") + "\n", "utf-8")
    assert load_settings(p).runtime == RuntimeSettings()
