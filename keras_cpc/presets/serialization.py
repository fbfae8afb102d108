"""Safe (de)serialisation of preset configs: only registered keras_cpc classes are built.

Classes are looked up in Keras' registered-object table; the model families register theirs
when imported (``import keras_cpc`` imports them all), so this module never imports them.
"""

import keras

from keras_cpc.version import __version__

# Modules a nested config object may come from.
_ALLOWED_MODULE_PREFIXES = ("keras", "keras_cpc")


def _check_nested_objects(node, where):
    """Refuse nested serialised objects from modules outside keras / keras_cpc."""
    if isinstance(node, dict):
        module = node.get("module")
        if "class_name" in node and module is not None:
            if not any(
                module == prefix or module.startswith(prefix + ".")
                for prefix in _ALLOWED_MODULE_PREFIXES
            ):
                raise ValueError(
                    f"{where} may only reference keras / keras_cpc objects; received "
                    f"class {node.get('class_name')!r} from module {module!r}."
                )
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            if not registered.startswith("keras_cpc>"):
                raise ValueError(
                    f"{where} may only reference registered keras_cpc classes; received "
                    f"registered name {registered!r}."
                )
        for value in node.values():
            _check_nested_objects(value, where)
    elif isinstance(node, list):
        for value in node:
            _check_nested_objects(value, where)


def resolve_class(config, base_cls, where):
    """The registered keras_cpc class named by a serialised config, checked against base_cls.

    Args:
        config: a serialised Keras object (``class_name``, ``config``, ``registered_name``).
        base_cls: the class the caller accepts; the named class must be it or a subclass.
        where: what the config is, for error messages (e.g. the file it came from).

    Example:
        >>> cls = resolve_class(read_json(path), Backbone, str(path))
    """
    if not isinstance(config, dict) or "config" not in config:
        raise ValueError(
            f"{where} must be a serialised Keras object (keys 'class_name', 'config', "
            f"'registered_name'); received {type(config).__name__} "
            f"with keys {sorted(config) if isinstance(config, dict) else None}."
        )
    registered = config.get("registered_name") or config.get("class_name")
    if not isinstance(registered, str) or not registered.startswith("keras_cpc>"):
        raise ValueError(
            f"{where} must name a registered keras_cpc class ('keras_cpc>ClassName'); "
            f"received {registered!r} from module {config.get('module')!r}. Only keras_cpc "
            "classes are deserialised from presets."
        )
    cls = keras.saving.get_registered_object(registered)
    if not isinstance(cls, type):
        raise ValueError(
            f"{where} names {registered!r}, which is not a registered keras_cpc class in "
            f"this version of keras_cpc ({__version__}); expected one of "
            f"{_registered_keras_cpc_names()}."
        )
    if not issubclass(cls, base_cls):
        raise ValueError(
            f"{where} names {registered!r}; expected a subclass of {base_cls.__name__}, "
            f"received {cls.__name__}."
        )
    _check_nested_objects(config["config"], where)
    return cls


def _registered_keras_cpc_names():
    names = keras.saving.get_custom_objects()
    return sorted(name for name in names if name.startswith("keras_cpc>"))


def deserialize(config, base_cls, where, **overrides):
    """Build the object a preset config describes, after `resolve_class` has checked it.

    Args:
        config: a serialised Keras object.
        base_cls: the class the caller accepts.
        where: what the config is, for error messages.
        **overrides: replace entries of the inner ``config`` (e.g. ``dtype``).

    Example:
        >>> backbone = deserialize(read_json(path), Backbone, str(path), dtype="float32")
    """
    cls = resolve_class(config, base_cls, where)
    config = dict(config)
    config["config"] = {**config["config"], **overrides}
    # safe_mode refuses lambdas; the checks above refuse foreign classes.
    obj = keras.saving.deserialize_keras_object(config, safe_mode=True)
    if not isinstance(obj, cls):
        raise ValueError(f"{where} deserialised to {type(obj).__name__}; expected {cls.__name__}.")
    return obj


def _strip_build_configs(node):
    if isinstance(node, dict):
        return {
            k: _strip_build_configs(v)
            for k, v in node.items()
            if k not in ("build_config", "compile_config")
        }
    if isinstance(node, list):
        return [_strip_build_configs(v) for v in node]
    return node


def serialize(obj):
    """``keras.saving.serialize_keras_object`` without build and compile configs.

    Args:
        obj: a Keras object (a backbone).

    Example:
        >>> config = serialize(backbone)
    """
    return _strip_build_configs(keras.saving.serialize_keras_object(obj))
