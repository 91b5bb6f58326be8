"""Automation: the CI/CD/CT controller (agent, rollout plans, lease, reproduce).

Example:
    >>> from loopml.automation.reproduce import reproduce
    >>> reproduce("models:/churn/3").matched  # doctest: +SKIP
    True
"""
