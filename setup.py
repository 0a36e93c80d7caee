"""Only a shim: everything is configured in pyproject.toml.

setuptools' editable wheels install data files only when the distribution answers
``has_data()``, which it never defines (it has ``has_data_files()``), so ``pip install -e .``
would skip ``etc/jupyter/jupyter_server_config.d/kernel_ext.json`` — the file that enables the
jupyter-server extension. This distribution class answers it.
"""

from setuptools import setup
from setuptools.dist import Distribution


class PlaitDistribution(Distribution):
    def has_data(self) -> bool:
        return bool(self.has_data_files())


setup(distclass=PlaitDistribution)
