# Type stubs of the package lrnn (python/lrnn/__init__.py), for editors and type checkers.
import os
from typing import Any, Callable, Dict, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from ._lrnn import Config as Config
from ._lrnn import ConfigError as ConfigError
from ._lrnn import FileError as FileError
from ._lrnn import InputError as InputError
from ._lrnn import Network as Network
from ._lrnn import NumericalError as NumericalError
from ._lrnn import set_log_level as set_log_level

_ConfigLike = Union[Config, str, os.PathLike[str], Dict[str, Any]]
_Path = Union[str, os.PathLike[str]]

class _Stop: ...

STOP: _Stop

def trials(config: _ConfigLike, split: str = ..., n: Optional[int] = ...) -> Dict[str, np.ndarray]: ...
def train(config: _ConfigLike, out: Optional[_Path] = ..., resume: Optional[_Path] = ...,
          threads: Optional[int] = ...,
          callback: Optional[Callable[[int, Dict[str, float]], Any]] = ...,
          trials: Optional[Dict[str, npt.ArrayLike]] = ..., overwrite: bool = ...) -> Dict[str, Any]: ...
def evaluate(checkpoint: _Path, out: Optional[_Path] = ..., trials: int = ...,
             integrator: Optional[str] = ..., coherences: Optional[Sequence[float]] = ...,
             noise_std: Optional[float] = ..., input_noise_std: Optional[float] = ...,
             stim_std: Optional[float] = ..., trials_file: Optional[_Path] = ...,
             threads: Optional[int] = ..., figures: bool = ...) -> Dict[str, Any]: ...
def inspect(checkpoint: _Path, resample: int = ..., trials: int = ..., threads: Optional[int] = ...,
            seed: int = ..., eigs: bool = ..., fixed_points: bool = ..., truncate: int = ...,
            populations: Optional[Union[int, str]] = ..., out: Optional[_Path] = ...) -> Dict[str, Any]: ...
