"""keras_cpc.data: the one data pipeline (audio, images, TFDS, splits, batches for `fit`).

Audio: `load_audio_clips` (in memory) or `AudioFolderSource` / `TFDSAudioSource` (random
access), all with one preprocessing (mono average, soxr, peak 1.0; `audio_preprocessing`),
batched by `RandomWindows` (pretraining) or `UtteranceDataset` (evaluation). Images:
`ImageFolder` (class folders or TFDS) batched by `ImageBatches` (host) or
`ResidentImageBatches` (held on the accelerator). Unusable files are skipped
with one warning naming each. Synthetic audio for demos and smoke tests: `tone_clips`.
"""

from keras_cpc.data.audio import (  # noqa: F401
    audio_problem,
    load_audio,
    normalize_loudness,
    normalize_peak,
    pcm_to_float,
    resample,
    to_mono,
    wav_truncation,
)
from keras_cpc.data.batches import EpochBatches  # noqa: F401
from keras_cpc.data.datasets import UtteranceDataset, as_tf_dataset  # noqa: F401
from keras_cpc.data.folders import (  # noqa: F401
    AUDIO_SUFFIXES,
    IMAGE_SUFFIXES,
    collect_files,
    image_problem,
    list_class_folder,
    read_images,
    readable_images,
)
from keras_cpc.data.images import (  # noqa: F401
    ImageBatches,
    ImageFolder,
    crop_and_flip,
    image_preprocessing,
    load_digits_images,
)
from keras_cpc.data.resident import ResidentImageBatches  # noqa: F401
from keras_cpc.data.sources import (  # noqa: F401
    FSDD_NAME,
    AudioFolderSource,
    TFDSAudioSource,
    audio_preprocessing,
    fsdd_label_parser,
    load_audio_clips,
)
from keras_cpc.data.splits import (  # noqa: F401
    EpochOrders,
    epoch_order,
    full_batch_steps,
    parse_range,
    stratified_holdout,
    subset,
)
from keras_cpc.data.synthetic import tone_clips  # noqa: F401
from keras_cpc.data.tfds import is_tfds_source, load_tfds, tfds_name  # noqa: F401
from keras_cpc.data.windows import RandomWindows, pad_batch, random_window  # noqa: F401
