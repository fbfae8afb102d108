"""The only backend-specific code of `keras_cpc.training`: accelerator names and determinism.

Each backend gets two small functions, picked from a dict by ``keras.backend.backend()``, so no
``if backend == ...`` chain is spread through the training code.
"""

import os

import keras


def _jax_accelerators():
    import jax

    # device_kind names the model ("NVIDIA H200"); str(device) only says "cuda:0".
    return [f"{d.device_kind} ({d})" for d in jax.devices() if d.platform != "cpu"]


def _tensorflow_accelerators():
    import tensorflow as tf

    return [
        tf.config.experimental.get_device_details(d).get("device_name", d.name)
        for d in tf.config.list_physical_devices("GPU")
    ]


def _torch_accelerators():
    import torch

    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]


def _jax_determinism():
    # XLA reads its flags when JAX first initialises a GPU backend: effective only if this
    # runs before the first JAX computation of the process (CPU XLA is deterministic anyway).
    flag = "--xla_gpu_deterministic_ops=true"
    flags = os.environ.get("XLA_FLAGS", "")
    if flag not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {flag}".strip()


def _tensorflow_determinism():
    import tensorflow as tf

    # Deterministic kernels for reductions and scatter ops on GPU (and in tf.data).
    tf.config.experimental.enable_op_determinism()


def _torch_determinism():
    import torch

    # cuBLAS needs a fixed workspace to be deterministic; it must be set before its first use.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # warn_only: an op without a deterministic kernel warns instead of stopping the run.
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


ACCELERATORS = {
    "jax": _jax_accelerators,
    "tensorflow": _tensorflow_accelerators,
    "torch": _torch_accelerators,
}
DETERMINISM = {
    "jax": _jax_determinism,
    "tensorflow": _tensorflow_determinism,
    "torch": _torch_determinism,
}


def accelerators():
    """Names of the accelerators the current Keras backend sees (empty on CPU-only machines).

    Returns:
        A list of strings such as ``["NVIDIA H200"]``; empty when none is visible or the
        backend cannot be asked (this is a description, never a reason to fail).

    Example:
        >>> accelerators()
        []
    """
    lookup = ACCELERATORS.get(keras.backend.backend())
    if lookup is None:
        return []
    try:
        return lookup()
    except Exception:  # noqa: BLE001 - a description only: never fail a run over it
        return []


def enable_determinism():
    """Ask the current backend for deterministic kernels (needed for bit-exact GPU reruns).

    Call it once at the start of a run, before the first computation, together with
    `keras.utils.set_random_seed`. On CPU the three backends are already deterministic; on GPU
    this selects deterministic (sometimes slower) kernels: ``enable_op_determinism`` on
    TensorFlow, ``use_deterministic_algorithms`` on PyTorch, ``--xla_gpu_deterministic_ops``
    on JAX (only effective before JAX first touches the GPU).

    Example:
        >>> import keras
        >>> keras.utils.set_random_seed(0)
        >>> enable_determinism()
    """
    backend = keras.backend.backend()
    if backend not in DETERMINISM:
        raise ValueError(
            f"Expected one of the backends {sorted(DETERMINISM)}; received {backend!r}."
        )
    DETERMINISM[backend]()
