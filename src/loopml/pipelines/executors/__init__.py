"""Executors: where pipeline steps run, picked from a URL.

=================================  ===============================================
URL                                executor
=================================  ===============================================
``local``                          :class:`LocalExecutor`: in this process (default)
``process``, ``process://4``       a pool of 4 (default: CPU count) worker processes
``dask://host:8786``               a dask.distributed cluster (``loopml[dask]``)
``dask://``                        a new local Dask cluster on 127.0.0.1
``ray``, ``ray://host:10001``      Ray, local or a cluster (``loopml[ray]``)
``py:package.module.ClassName``    any class with the :class:`Executor` members
=================================  ===============================================

Example:
    >>> from_url("local")
    LocalExecutor()
"""

from loopml.pipelines.executors._resolve import from_url, resolve_executor
from loopml.pipelines.executors.base import Executor
from loopml.pipelines.executors.local import LocalExecutor

__all__ = ["Executor", "LocalExecutor", "from_url", "resolve_executor"]
