"""neuroattn.datasets exports every reader's FormatError subclass, so callers can catch it."""

import importlib
import inspect
import pkgutil

import neuroattn.datasets as datasets
from neuroattn.errors import FormatError, NeuroattnError


def test_every_format_error_subclass_is_exported():
    defined = set()
    for info in pkgutil.iter_modules(datasets.__path__, "neuroattn.datasets."):
        module = importlib.import_module(info.name)
        defined |= {name for name, obj in inspect.getmembers(module, inspect.isclass)
                    if issubclass(obj, FormatError) and obj.__module__ == info.name}
    assert defined, "no reader defines a FormatError subclass?"
    missing = sorted(defined - set(datasets.__all__))
    assert not missing, f"not exported from neuroattn.datasets: {missing}"
    for name in defined:
        assert issubclass(getattr(datasets, name), NeuroattnError)
