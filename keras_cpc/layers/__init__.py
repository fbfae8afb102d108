"""keras_cpc.layers"""

from keras_cpc.layers.gaussian_mixture_prior import GaussianMixturePrior  # noqa: F401
from keras_cpc.layers.stochastic_code import StochasticCode  # noqa: F401
