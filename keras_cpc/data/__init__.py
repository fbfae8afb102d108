"""keras_cpc.data"""

from keras_cpc.data.audio import (  # noqa: F401
    load_audio,
    normalize_loudness,
    normalize_peak,
    resample,
    to_mono,
)
from keras_cpc.data.datasets import UtteranceDataset, WindowDataset, as_tf_dataset  # noqa: F401
from keras_cpc.data.sources import (  # noqa: F401
    AudioFolderSource,
    TFDSAudioSource,
    fsdd_label_parser,
)
from keras_cpc.data.windows import pad_batch, random_window  # noqa: F401
