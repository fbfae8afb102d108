"""keras_cpc.layers"""

from keras_cpc.layers.causal_transformer import CausalTransformer  # noqa: F401
from keras_cpc.layers.channel_norm import ChannelNorm  # noqa: F401
from keras_cpc.layers.cpc_encoder import CPCEncoder  # noqa: F401
from keras_cpc.layers.critics import ConcatCritic, SeparableCritic  # noqa: F401
from keras_cpc.layers.gaussian_mixture_prior import GaussianMixturePrior  # noqa: F401
from keras_cpc.layers.projection_head import ProjectionHead  # noqa: F401
from keras_cpc.layers.selective_kernel import SelectiveKernelConv2D  # noqa: F401
from keras_cpc.layers.simclr_augmentation import SimCLRAugmentation  # noqa: F401
from keras_cpc.layers.stochastic_code import StochasticCode  # noqa: F401
