"""The model registry: model packages, versions, aliases, approvals, events.

A model package is a folder: the serialized model (one flavor: sklearn, lightgbm,
xgboost, torch, onnx or pyfunc) and ``model.json`` with its signature, input example,
pinned requirements and the digest of every file. The registry turns packages into
numbered versions of named models, points aliases (``production``, ``canary``) at them
with full history, and guards promotion with a per-model policy.
"""
