"""``keras_cpc.presets`` sits below the models: it never imports ``keras_cpc.models``; and
listing presets (``keras_cpc.list_presets``, the ``keras-cpc presets`` command) loads no keras."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import keras_cpc
import keras_cpc.presets

PACKAGE = Path(keras_cpc.presets.__file__).parent
BACKEND_MODULES = ("keras", "tensorflow", "jax", "torch")


def test_presets_source_names_no_model_module_and_imports_nothing_dynamically():
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value]  # a module name in a string (for importlib) counts too
            else:
                continue
            for name in names:
                module_name = re.fullmatch(r"keras_cpc\.models(\.\w+)*", name)
                assert not module_name, f"{path.name}:{node.lineno} names {name}"
                # Only the package's lazy exports import by name, and only its own modules
                # (checked below).
                if path.name != "__init__.py":
                    assert not name.startswith("importlib"), f"{path.name}:{node.lineno} {name}"
        calls = [
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        ]
        assert "__import__" not in calls, path.name


def test_lazy_exports_name_modules_of_the_presets_package_only():
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    assert set(keras_cpc.presets._EXPORTS.values()) <= modules
    for name in keras_cpc.presets.__all__:
        assert getattr(keras_cpc.presets, name) is not None
    assert set(keras_cpc.presets.__all__) <= set(dir(keras_cpc.presets))


def _child(code):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return eval(result.stdout.strip().splitlines()[-1])


def test_listing_presets_loads_no_keras_and_no_model_module():
    listed, heavy, loaded = _child(
        f"""
import sys, keras_cpc
listing = keras_cpc.list_presets()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {BACKEND_MODULES!r})
print((listing, heavy, sorted(m for m in sys.modules if m.startswith("keras_cpc"))))
"""
    )
    assert heavy == []
    assert loaded == [
        "keras_cpc",
        "keras_cpc.presets",
        "keras_cpc.presets.layout",
        "keras_cpc.presets.registry",
        "keras_cpc.version",
    ]
    # The families' registered entries, read without importing keras_cpc.models.
    registered = keras_cpc.presets.registered_presets()
    assert set(registered) <= set(listed)
    for name, entry in registered.items():
        assert listed[name]["description"] == entry["metadata"].get("description", "")
        assert listed[name]["class_name"] == entry["class_name"]


def test_every_presets_export_loads_no_other_keras_cpc_module():
    # An empty stand-in for keras keeps this a fraction of a second: nothing in the package
    # uses keras at import time.
    loaded = _child(
        """
import sys, types
sys.modules["keras"] = types.ModuleType("keras")
from keras_cpc.presets import *
print(sorted(m for m in sys.modules if m.startswith("keras_cpc.")))
"""
    )
    assert "keras_cpc.presets.saving" in loaded
    allowed = [name for name in loaded if name.startswith("keras_cpc.presets")]
    assert sorted(allowed + ["keras_cpc.version"]) == loaded


def test_family_files_read_alone_register_the_same_entries(monkeypatch):
    # The listing runs each family's *_presets.py on its own (keras_cpc.models not imported);
    # the ordinary import, before or after, registers identical entries, so neither order
    # raises and the registry ends the same.
    import keras_cpc.models  # noqa: F401  (the ordinary import: every family registered)
    from keras_cpc.presets import registry

    before = registry.registered_presets()
    pattern = re.compile(r"keras_cpc\.models\.\w+\.\w+_presets")
    family_modules = [name for name in sys.modules if pattern.fullmatch(name)]
    assert family_modules
    for name in family_modules:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(keras_cpc, "_REGISTERED_FILES", set())
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    keras_cpc.register_shipped_presets()
    assert registry.registered_presets() == before
    assert len(keras_cpc._REGISTERED_FILES) == len(family_modules)


def test_family_preset_files_import_only_the_presets_package():
    # They run on their own, without keras_cpc.models, whenever presets are listed.
    files = sorted((PACKAGE.parent / "models").glob("*/*_presets.py"))
    assert files
    for path in files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert re.fullmatch(r"keras_cpc\.presets(\.registry)?", node.module or ""), (
                    f"{path.name}:{node.lineno} imports from {node.module}"
                )
            assert not isinstance(node, ast.Import), f"{path.name}:{node.lineno} imports"
