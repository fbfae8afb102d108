"""``keras_cpc.presets`` sits below the models: it never imports ``keras_cpc.models``."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import keras_cpc.presets

PACKAGE = Path(keras_cpc.presets.__file__).parent


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
                assert not name.startswith("importlib"), f"{path.name}:{node.lineno} {name}"
        calls = [
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        ]
        assert "__import__" not in calls, path.name


def test_importing_presets_alone_loads_no_other_keras_cpc_module():
    # A stub parent package keeps keras_cpc/__init__.py (which imports everything) from running,
    # so sys.modules shows exactly what the presets package pulls in. An empty stand-in for keras
    # keeps this a fraction of a second: nothing in the package uses keras at import time.
    code = f"""
import sys, types
stub = types.ModuleType("keras_cpc")
stub.__path__ = [{str(PACKAGE.parent)!r}]
sys.modules["keras_cpc"] = stub
sys.modules["keras"] = types.ModuleType("keras")
import keras_cpc.presets
print(sorted(m for m in sys.modules if m.startswith("keras_cpc.")))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = eval(result.stdout.strip().splitlines()[-1])
    assert "keras_cpc.presets.saving" in loaded
    allowed = [name for name in loaded if name.startswith("keras_cpc.presets")]
    assert sorted(allowed + ["keras_cpc.version"]) == loaded
