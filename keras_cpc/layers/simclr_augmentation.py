"""SimCLR's augmentation pipeline as a Keras layer that runs on the accelerator."""

import math

import keras
import numpy as np
from keras import ops

from keras_cpc.distribute import replica_seed
from keras_cpc.layers.arguments import as_int_tuple
from keras_cpc.layers.random_crops import CROP_SAMPLINGS, resize_matrix, sample_crops

# ITU-R 601 luma weights, as in `tf.image.rgb_to_grayscale`.
LUMA = (0.2989, 0.5870, 0.1140)
RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], dtype="float32"
)
YIQ_TO_RGB = np.linalg.inv(RGB_TO_YIQ).astype("float32")


def check_image_batch(images, owner, what="images"):
    """Raise a ValueError unless ``images`` is a non-empty (batch, height, width, 3) batch.

    Shared by `SimCLRAugmentation` and `SimCLRPretrainer` (which also checks fixed views).
    Returns the static shape.
    """
    shape = tuple(images.shape)
    if len(shape) != 4:
        raise ValueError(
            f"{owner} expects {what} of rank 4 (batch, height, width, 3); received rank "
            f"{len(shape)} with shape {shape}."
        )
    if shape[-1] != 3:
        raise ValueError(
            f"{owner} expects 3 (RGB) channels; received {shape[-1]} channels in {what} "
            f"(shape {shape})."
        )
    if shape[0] == 0:
        raise ValueError(f"{owner} received an empty batch of {what} (shape {shape}).")
    return shape


def _grayscale(x):
    luma = ops.convert_to_tensor(LUMA, dtype="float32")
    return ops.sum(x * luma, axis=-1, keepdims=True)


def _hue_matrices(delta):
    """(batch, 3, 3) RGB matrices rotating hue by ``delta`` turns in YIQ space.

    A hue shift that is a per-image 3x3 matrix lets all four jitter ops share one code path
    (see `SimCLRAugmentation._color_jitter`); it keeps luma and leaves grays unchanged.
    """
    angle = 2.0 * math.pi * delta
    cos, sin = ops.cos(angle), ops.sin(angle)
    zeros, ones = ops.zeros_like(angle), ops.ones_like(angle)
    rotation = ops.stack(
        [
            ops.stack([ones, zeros, zeros], axis=-1),
            ops.stack([zeros, cos, -sin], axis=-1),
            ops.stack([zeros, sin, cos], axis=-1),
        ],
        axis=-2,
    )
    to_yiq = ops.convert_to_tensor(RGB_TO_YIQ, dtype="float32")
    from_yiq = ops.convert_to_tensor(YIQ_TO_RGB, dtype="float32")
    return ops.einsum("ij,bjk,kl->bil", from_yiq, rotation, to_yiq)


def _apply_color_matrix(matrix, x):
    # x A^T as one batched (H*W, 3) x (3, 3) matmul: cheaper than einsum without XLA.
    shape = ops.shape(x)
    flat = ops.reshape(x, (shape[0], -1, 3))
    return ops.reshape(ops.matmul(flat, ops.transpose(matrix, (0, 2, 1))), shape)


@keras.saving.register_keras_serializable(package="keras_cpc")
class SimCLRAugmentation(keras.layers.Layer):
    """The SimCLR augmentation, with its own random parameters for every image in the batch.

    Steps, in the order of the official code: random resized crop (bicubic) and horizontal
    flip; colour jitter with probability ``jitter_probability`` (brightness, contrast,
    saturation, hue in a random order per image, clipping after each); grayscale with
    probability ``grayscale_probability``; optionally Gaussian blur (kernel 10% of the height,
    sigma in [0.1, 2], applied to half the images; the ImageNet setting). Built only on
    `keras.ops` and `keras.random` with the layer's `SeedGenerator`, so it runs inside the
    training step, on the accelerator and under `jit_compile`, on every backend.

    Differences from the TF pipeline, all deliberate: by default (``crop_sampling="ours"``)
    the crop draws its area uniformly, once per image, and clips the side lengths to the image
    (mean area 0.53; ``"official"`` is the TF sampler, mean area 0.43: see
    `keras_cpc.layers.random_crops`); saturation is the
    torchvision blend with the grayscale image; hue is a rotation in YIQ space (TF shifts H
    in HSV: both rotate hue around the gray axis, YIQ keeps luma), which makes every jitter
    op a per-image 3x3 matrix, so the random per-image order costs four small matmuls
    instead of evaluating all four ops at every position; blur sigma is drawn per image, not
    per batch; brightness is multiplicative (the official ``simclrv2`` setting). Our hue
    rotation turns the opposite way to ``tf.image.adjust_hue`` for the same delta; the shift
    is drawn uniformly in a range symmetric about 0, so the augmentation's distribution is the
    same either way (no option for it).

    The layer computes in float32 whatever the global dtype policy (``dtype="float32"`` unless
    another is passed): under ``mixed_bfloat16`` the views stay float32 and the backbone casts
    them to its compute dtype.

    Args:
        image_size: ``(height, width)`` of the output, or None to keep the input size. Inputs
            smaller than this raise a ValueError.
        crop_area: range of the crop area as a fraction of the image area.
        aspect_ratio: range of the crop's width / height.
        crop_sampling: ``"ours"`` (area uniform in ``crop_area``, aspect ratio log-uniform,
            one draw) or ``"official"`` (``tf.image.sample_distorted_bounding_box`` as the
            official SimCLR code calls it, in whole pixels: aspect ratio uniform in
            ``aspect_ratio`` times the output's width / height, height uniform, at least 10%
            of the image, up to 100 attempts, then the whole image).
        flip: whether to flip half the images horizontally.
        jitter_strength: colour strength s (0.5 for CIFAR, 1.0 for ImageNet): brightness,
            contrast and saturation factors in [1 - 0.8s, 1 + 0.8s], hue shift in +-0.2s.
            0 disables colour jitter.
        jitter_probability: probability of colour jitter per image.
        grayscale_probability: probability of grayscale per image.
        blur: whether to apply the Gaussian blur.
        value_range: ``(low, high)`` pixel range of the inputs; kept in the outputs.
        seed: integer seed of the layer's `SeedGenerator`.
        **kwargs: passed to `keras.layers.Layer`.

    Call args:
        images: (batch, height, width, 3) uint8 or float images.
        training: when False, images are only resized (whole image) and cast to float32.

    Returns:
        float32 images (batch, out_height, out_width, 3) within ``value_range``.

    Example:
        >>> import numpy as np
        >>> augment = SimCLRAugmentation(jitter_strength=0.5, seed=0)
        >>> images = np.random.randint(0, 256, size=(4, 32, 32, 3), dtype="uint8")
        >>> views = augment(images, training=True)  # (4, 32, 32, 3) float32 in [0, 255]
    """

    def __init__(
        self,
        image_size=None,
        crop_area=(0.08, 1.0),
        aspect_ratio=(3.0 / 4.0, 4.0 / 3.0),
        crop_sampling="ours",
        flip=True,
        jitter_strength=1.0,
        jitter_probability=0.8,
        grayscale_probability=0.2,
        blur=False,
        value_range=(0, 255),
        seed=None,
        **kwargs,
    ):
        # float32 unless asked otherwise: a mixed global policy would cast float inputs to
        # half precision before `call`.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if crop_sampling not in CROP_SAMPLINGS:
            raise ValueError(
                f"`crop_sampling` must be one of {CROP_SAMPLINGS}; received {crop_sampling!r}."
            )
        if image_size is not None:
            image_size = as_int_tuple(image_size, "image_size")
            if len(image_size) != 2 or min(image_size) < 1:
                raise ValueError(
                    "`image_size` must be None or (height, width) with positive sizes; "
                    f"received image_size={image_size!r}."
                )
        crop_area = tuple(float(a) for a in crop_area)
        if not 0 < crop_area[0] <= crop_area[1] <= 1:
            raise ValueError(f"`crop_area` must satisfy 0 < min <= max <= 1; received {crop_area}.")
        aspect_ratio = tuple(float(a) for a in aspect_ratio)
        if not 0 < aspect_ratio[0] <= aspect_ratio[1]:
            raise ValueError(
                f"`aspect_ratio` must satisfy 0 < min <= max; received {aspect_ratio}."
            )
        value_range = tuple(float(v) for v in value_range)
        if not value_range[0] < value_range[1]:
            raise ValueError(f"`value_range` must be (low, high); received {value_range}.")
        self.image_size = image_size
        self.crop_area = crop_area
        self.aspect_ratio = aspect_ratio
        self.crop_sampling = crop_sampling
        self.flip = flip
        self.jitter_strength = float(jitter_strength)
        self.jitter_probability = float(jitter_probability)
        self.grayscale_probability = float(grayscale_probability)
        self.blur = blur
        self.value_range = value_range
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = False

    def _check_images(self, images):
        shape = check_image_batch(images, "SimCLRAugmentation")
        if self.image_size is not None and shape[1] is not None and shape[2] is not None:
            if shape[1] < self.image_size[0] or shape[2] < self.image_size[1]:
                raise ValueError(
                    f"Images of {shape[1]}x{shape[2]} are smaller than the output crop "
                    f"{self.image_size[0]}x{self.image_size[1]} (`image_size`)."
                )

    def _uniform(self, shape, low, high):
        # Data parallel: each replica draws its own numbers (the layer itself on one device).
        return keras.random.uniform(shape, low, high, seed=replica_seed(self.seed_generator))

    def call(self, images, training=True):
        images = ops.convert_to_tensor(images)
        self._check_images(images)
        low, high = self.value_range
        x = (ops.cast(images, "float32") - low) / (high - low)
        batch, in_h, in_w = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        out_h, out_w = self.image_size if self.image_size is not None else (in_h, in_w)

        if not training:
            ones, zeros = ops.ones((batch,)), ops.zeros((batch,))
            no_flip = ops.zeros((batch,), dtype="bool")
            rows = resize_matrix(zeros, ones, no_flip, out_h, in_h)
            cols = resize_matrix(zeros, ones, no_flip, out_w, in_w)
            x = ops.einsum("bik,bkwc,bjw->bijc", rows, x, cols)
            return ops.clip(x, 0.0, 1.0) * (high - low) + low

        # --- Random resized crop + flip: two per-image interpolation matrices.
        aspect_ratio = self.aspect_ratio
        if self.crop_sampling == "official":  # SimCLR scales the range by the output's shape
            aspect_ratio = tuple(r * out_w / out_h for r in aspect_ratio)
        start_y, crop_h, start_x, crop_w = sample_crops(
            self.crop_sampling, self._uniform, batch, in_h, in_w, self.crop_area, aspect_ratio
        )
        if self.flip:
            flip = self._uniform((batch,), 0.0, 1.0) < 0.5
        else:
            flip = ops.zeros((batch,), dtype="bool")
        no_flip = ops.zeros((batch,), dtype="bool")
        rows = resize_matrix(start_y, crop_h, no_flip, out_h, in_h)
        cols = resize_matrix(start_x, crop_w, flip, out_w, in_w)
        x = ops.einsum("bik,bkwc->biwc", rows, x)
        x = ops.einsum("bjw,biwc->bijc", cols, x)
        x = ops.clip(x, 0.0, 1.0)

        # --- Colour jitter, in a random order per image.
        if self.jitter_strength > 0 and self.jitter_probability > 0:
            x = ops.where(
                (self._uniform((batch,), 0.0, 1.0) < self.jitter_probability)[:, None, None, None],
                self._color_jitter(x, batch),
                x,
            )
        if self.grayscale_probability > 0:
            gray = ops.repeat(_grayscale(x), 3, axis=-1)
            to_gray = self._uniform((batch,), 0.0, 1.0) < self.grayscale_probability
            x = ops.where(to_gray[:, None, None, None], gray, x)
        if self.blur:
            x = self._random_blur(x, batch, out_h, out_w)
        return x * (high - low) + low

    def _color_jitter(self, x, batch):
        s = 0.8 * self.jitter_strength
        low = max(1.0 - s, 0.0)
        brightness = self._uniform((batch,), low, 1.0 + s)[:, None, None]
        contrast = self._uniform((batch,), low, 1.0 + s)[:, None, None]
        saturation = self._uniform((batch,), low, 1.0 + s)[:, None, None]
        hue = self._uniform((batch,), -0.2 * self.jitter_strength, 0.2 * self.jitter_strength)
        order = ops.argsort(self._uniform((batch, 4), 0.0, 1.0), axis=-1)

        # Every op is x -> A x + b per image: brightness f*I; contrast f*I with b = (1 - f) *
        # channel means; saturation f*I + (1 - f) * (luma in every row); hue a YIQ rotation.
        # So each of the four positions of the per-image random order is one 3x3 matmul,
        # instead of evaluating all four ops and selecting.
        eye = ops.eye(3, dtype="float32")[None]
        luma_rows = ops.convert_to_tensor([LUMA] * 3, dtype="float32")[None]
        matrices = [
            brightness * eye,
            contrast * eye,
            saturation * eye + (1.0 - saturation) * luma_rows,
            _hue_matrices(hue),
        ]
        for position in range(4):
            op = order[:, position][:, None, None]
            matrix = ops.where(
                op == 0,
                matrices[0],
                ops.where(op == 1, matrices[1], ops.where(op == 2, matrices[2], matrices[3])),
            )
            means = ops.mean(x, axis=(1, 2), keepdims=True)
            bias = ops.where(op[..., None] == 1, (1.0 - contrast[..., None]) * means, 0.0)
            x = ops.clip(_apply_color_matrix(matrix, x) + bias, 0.0, 1.0)
        return x

    def _random_blur(self, x, batch, height, width):
        radius = int(height) // 20  # kernel size 10% of the height, odd
        if radius < 1:
            return x
        sigma = self._uniform((batch,), 0.1, 2.0)
        offsets = ops.arange(-radius, radius + 1, dtype="float32")
        kernel_sum = ops.sum(
            ops.exp(-ops.square(offsets)[None, :] / (2.0 * ops.square(sigma)[:, None])), axis=-1
        )

        def blur_matrix(size):
            index = ops.arange(size, dtype="float32")
            distance = index[:, None] - index[None, :]
            weights = ops.exp(
                -ops.square(distance)[None] / (2.0 * ops.square(sigma))[:, None, None]
            )
            weights = ops.where(ops.abs(distance)[None] <= radius, weights, 0.0)
            # Divide by the full kernel's sum: zero padding at the borders (SAME conv).
            return weights / kernel_sum[:, None, None]

        blurred = ops.einsum("bik,bkwc->biwc", blur_matrix(height), x)
        blurred = ops.einsum("bjw,biwc->bijc", blur_matrix(width), blurred)
        apply = self._uniform((batch,), 0.0, 1.0) < 0.5
        return ops.clip(ops.where(apply[:, None, None, None], blurred, x), 0.0, 1.0)

    def compute_output_shape(self, input_shape):
        if self.image_size is None:
            return tuple(input_shape)
        return (input_shape[0], *self.image_size, input_shape[-1])

    def compute_output_spec(self, images, training=True):
        shape = self.compute_output_shape(tuple(images.shape))
        return keras.KerasTensor(shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "image_size": self.image_size,
                "crop_area": self.crop_area,
                "aspect_ratio": self.aspect_ratio,
                "crop_sampling": self.crop_sampling,
                "flip": self.flip,
                "jitter_strength": self.jitter_strength,
                "jitter_probability": self.jitter_probability,
                "grayscale_probability": self.grayscale_probability,
                "blur": self.blur,
                "value_range": self.value_range,
                "seed": self.seed,
            }
        )
        return config
