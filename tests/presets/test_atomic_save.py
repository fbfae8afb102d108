"""A preset save, overwrite included, always leaves a complete preset at the path (old or new),
cleans its staging folder, and gives the folder normal permissions.

Kills are real: a child process runs the save protocol (`write_directory`, what `save_preset`
uses) and SIGKILLs itself at a chosen step; it loads only the presets package, so it starts in
a fraction of a second.
"""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import keras_cpc.presets
from keras_cpc.presets import PresetExistsError, atomic, read_metadata, save_preset
from tests.fixtures.backbones import tiny_audio_backbone

NEWER = {"description": "newer"}
EXCHANGE = atomic.exchange_paths  # the real one, before any test patches it


def _snapshot(path):
    return {p.name: p.read_bytes() for p in sorted(Path(path).iterdir())}


def _siblings(path):
    return sorted(p.name for p in Path(path).parent.iterdir() if p.name != Path(path).name)


@pytest.fixture(scope="module")
def two_presets(tmp_path_factory):
    """Snapshots of two different complete presets: (old, new) as {file name: bytes}."""
    root = tmp_path_factory.mktemp("two")
    old = save_preset(root / "old", tiny_audio_backbone(seed=1), metadata={"description": "old"})
    new = save_preset(root / "new", tiny_audio_backbone(seed=2), metadata={"description": "new"})
    return root, _snapshot(old), _snapshot(new)


@pytest.fixture
def existing(two_presets, tmp_path):
    """(path holding the old preset, old snapshot, new preset directory, new snapshot)."""
    root, old, new = two_presets
    path = tmp_path / "store" / "tiny"
    shutil.copytree(root / "old", path)
    return path, old, root / "new", new


def _dead_pid():
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    return int(child.stdout)


def test_overwrite_leaves_a_complete_preset_at_every_step(existing, monkeypatch):
    path = existing[0]
    seen = []

    def observe(step):
        seen.append((step, atomic._is_complete(path)))

    def watched(function, name):
        def wrapper(*args, **kwargs):
            observe(f"before {name}")
            result = function(*args, **kwargs)
            observe(f"after {name}")
            return result

        return wrapper

    monkeypatch.setattr(atomic, "exchange_paths", watched(atomic.exchange_paths, "exchange"))
    monkeypatch.setattr(os, "replace", watched(os.replace, "replace"))
    monkeypatch.setattr(shutil, "rmtree", watched(shutil.rmtree, "rmtree"))
    save_preset(path, tiny_audio_backbone(seed=2), overwrite=True, metadata=NEWER)
    assert seen and all(complete for _, complete in seen), seen
    assert read_metadata(path)["description"] == "newer"
    assert _siblings(path) == []
    if atomic._RENAMEAT2 is not None:
        assert [step for step, _ in seen if "replace" in step] == []  # swapped in one step


def test_without_atomic_exchange_the_fallback_still_replaces(existing, monkeypatch):
    path = existing[0]
    monkeypatch.setattr(atomic, "exchange_paths", lambda first, second: False)
    save_preset(path, tiny_audio_backbone(seed=2), overwrite=True, metadata=NEWER)
    assert read_metadata(path)["description"] == "newer"
    assert _siblings(path) == []


def test_exception_mid_save_keeps_old_preset_and_removes_staging(existing, monkeypatch):
    path, old, _, _ = existing
    backbone = tiny_audio_backbone(seed=2)

    def crash(*args, **kwargs):
        raise RuntimeError("simulated failure while writing the card")

    monkeypatch.setattr(keras_cpc.presets.saving, "model_card", crash)
    with pytest.raises(RuntimeError, match="simulated failure"):
        save_preset(path, backbone, overwrite=True)
    assert _snapshot(path) == old
    assert _siblings(path) == []


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_saved_folder_gets_normal_permissions(tmp_path, umask):
    previous = os.umask(umask)
    try:
        path = save_preset(tmp_path / "perm", tiny_audio_backbone(seed=1))
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o777 & ~umask


_CHILD = textwrap.dedent(
    """
    import os, shutil, signal, sys, types
    from pathlib import Path

    package, path, template, step = sys.argv[1:5]
    for name, folder in (("keras_cpc", package), ("keras_cpc.presets", package + "/presets")):
        stub = types.ModuleType(name)
        stub.__path__ = [folder]
        sys.modules[name] = stub
    from keras_cpc.presets import atomic

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def write(staging):
        shutil.copytree(template, staging, dirs_exist_ok=True)
        if step == "writing":
            (staging / "config.json").write_text("{half")
            die()

    if step == "after swap":
        def exchange(first, second):
            assert real_exchange(first, second)
            die()
        real_exchange, atomic.exchange_paths = atomic.exchange_paths, exchange
    if step == "between renames":
        atomic.exchange_paths = lambda first, second: False
        real_replace = os.replace
        def replace(source, target):
            real_replace(source, target)
            if ".old-" in str(target):
                die()
        os.replace = replace
    atomic.write_directory(Path(path), write, overwrite=True)
    sys.exit(3)
    """
)


def _killed_save(path, template, step):
    package = Path(keras_cpc.presets.__file__).parent.parent
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(package), str(path), str(template), step],
        capture_output=True,
        text=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]


@pytest.mark.parametrize("step", ["writing", "after swap", "between renames"])
def test_kill_at_any_step_then_next_save_repairs_and_cleans(existing, step):
    if step == "after swap" and atomic._RENAMEAT2 is None:
        pytest.skip("no atomic exchange on this OS")
    path, old, template, new = existing
    _killed_save(path, template, step)
    leftovers = _siblings(path)
    if step == "writing":
        assert _snapshot(path) == old and len(leftovers) == 1 and ".saving-" in leftovers[0]
    elif step == "after swap":
        # The swap happened: the new preset is in place, the old one waits in staging.
        assert _snapshot(path) == new and len(leftovers) == 1 and ".saving-" in leftovers[0]
    else:
        # The fallback's gap: the old preset stepped aside and the kill came before the new
        # one moved in. The next save puts it back before anything else.
        assert not path.exists()
        assert [name.split("-")[0] for name in leftovers] == [".tiny.old", ".tiny.saving"]
        with pytest.raises(PresetExistsError):
            save_preset(path, tiny_audio_backbone(seed=3))
        assert _snapshot(path) == old and _siblings(path) == []
        return
    save_preset(path, tiny_audio_backbone(seed=3), overwrite=True)
    assert atomic._is_complete(path) and _siblings(path) == []


def test_only_leftovers_of_dead_processes_are_removed(existing):
    path, old, _, _ = existing
    dead = _dead_pid()
    for name in (
        f".{path.name}.saving-{dead}-abc123",
        f".{path.name}.old-{dead}-xyz_89",
        f".{path.name}.saving-k2j3h4g5",  # written before names carried a pid
        f".{path.name}.saving-{os.getpid()}-live01",  # a save running now (this process)
        f".{path.name}x.saving-{dead}-other1",  # another preset's
    ):
        (path.parent / name).mkdir()
    save_preset(path, tiny_audio_backbone(seed=2), overwrite=True)
    assert _siblings(path) == sorted(
        [f".{path.name}.saving-{os.getpid()}-live01", f".{path.name}x.saving-{dead}-other1"]
    )
    assert atomic._is_complete(path) and _snapshot(path) != old


def test_exchange_paths_swaps_two_folders(tmp_path):
    if atomic._RENAMEAT2 is None:
        pytest.skip("no atomic exchange on this OS")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "from_a").write_text("a")
    assert EXCHANGE(tmp_path / "a", tmp_path / "b")
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["from_a"]
    assert list((tmp_path / "a").iterdir()) == []
    with pytest.raises(OSError, match="renameat2"):
        EXCHANGE(tmp_path / "a", tmp_path / "missing")
