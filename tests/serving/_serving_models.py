"""Models the serving tests register: pyfunc classes importable by a server subprocess too."""

from __future__ import annotations

from typing import Any

import numpy as np


class Identity:
    """Answers with its input, whatever it is."""

    def predict(self, data: Any) -> Any:
        return data


class Doubler:
    """Twice its input, as float64; ``offset`` tells versions apart."""

    offset = 0.0

    def predict(self, data: Any) -> Any:
        return np.asarray(data, dtype="float64") * 2 + self.offset


class Exploding:
    """Always fails, as a broken challenger would."""

    def predict(self, data: Any) -> Any:
        raise RuntimeError("the challenger is broken")


class Picky:
    """Refuses negative values with a ValueError, as scikit-learn refuses NaN."""

    def predict(self, data: Any) -> Any:
        values = np.asarray(data, dtype="float64")
        if (values < 0).any():
            raise ValueError("negative values are not allowed")
        return values.sum(axis=1)


class Slow:
    """Marks that a prediction started (a file), then takes two seconds: an in-flight request."""

    marker = ""

    def predict(self, data: Any) -> Any:
        from pathlib import Path
        from time import sleep

        Path(self.marker).touch()
        sleep(2)
        return data
