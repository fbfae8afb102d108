"""Build hook (all metadata is in pyproject.toml): ship top-level presets/ inside the wheel.

The preset folder lives at the repository root (next to examples/ and tests/), but an installed
package can only find files inside itself, so wheels get a copy at ``keras_cpc/_presets``.
``keras_cpc.presets.registry.shipped_presets_dirs`` looks there first, then at ``../presets``
for source and editable checkouts.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PRESETS_SOURCE = Path(__file__).resolve().parent / "presets"


class BuildPyWithPresets(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False) or not PRESETS_SOURCE.is_dir():
            return  # editable installs read ../presets directly
        target = Path(self.build_lib) / "keras_cpc" / "_presets"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(
            PRESETS_SOURCE, target, ignore=shutil.ignore_patterns(".*", "__pycache__", "*.pyc")
        )


setup(cmdclass={"build_py": BuildPyWithPresets})
