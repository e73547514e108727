"""The offline poll clock: sleeps shrink, the SDK's sense of elapsed time does not."""

import sys
import time
import types

from local_sagemaker.kernel.sdk_polling import ScaledClock, when_imported


def test_a_sleep_is_scaled_but_time_moves_on_by_all_of_it() -> None:
    clock = ScaledClock(0.01)
    real, seen = time.monotonic(), clock.time()
    clock.sleep(10)
    assert time.monotonic() - real < 1
    assert clock.time() - seen >= 10
    assert clock.strftime("%Y") == time.strftime("%Y"), "everything else is the time module's"


def test_when_imported_patches_a_loaded_module_at_once(monkeypatch) -> None:
    module = types.ModuleType("maze_fake_module")
    monkeypatch.setitem(sys.modules, "maze_fake_module", module)
    when_imported("maze_fake_module", lambda m: setattr(m, "patched", True))
    assert module.patched


def test_when_imported_patches_a_module_right_after_its_first_import(monkeypatch, tmp_path) -> None:
    (tmp_path / "maze_fake_later.py").write_text("def endpoint(region):\n    return 'https://aws'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "maze_fake_later", raising=False)
    when_imported("maze_fake_later", lambda m: setattr(m, "endpoint", lambda region: "http://local"))
    from maze_fake_later import endpoint  # the name bound at import is the patched one

    assert endpoint("us-east-1") == "http://local"
    monkeypatch.delitem(sys.modules, "maze_fake_later")
