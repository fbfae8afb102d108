"""Shipped ResNetBackbone presets (name -> metadata), keras-hub style.

Each entry: ``{"metadata": {"description", "params", "path"}, "class_name"}``; the files live in
the top-level ``presets/<name>/`` folder (shipped inside the wheel). Empty until trained presets
are added.
"""

backbone_presets = {}
