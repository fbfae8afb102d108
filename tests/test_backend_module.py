"""`for_backend` finds the backend's module next to a module, and only its absence gives None."""

import keras

from keras_cpc.backend_module import for_backend


def test_backend_modules_where_the_backend_has_one():
    backend = keras.backend.backend()
    kernels = for_backend("keras_cpc.layers.native_layout")
    # TensorFlow needs no native kernels; torch and JAX each have a module.
    assert (kernels is None) == (backend == "tensorflow")
    if kernels is not None:
        assert kernels.__name__ == f"keras_cpc.layers.native_layout_{backend}"
    # JAX compiles its own step; torch matches the optimizer's slots first; TensorFlow has none.
    steps = for_backend("keras_cpc.models.train_function")
    assert (steps is None) == (backend == "tensorflow")
    assert for_backend("keras_cpc.no_such_module") is None
