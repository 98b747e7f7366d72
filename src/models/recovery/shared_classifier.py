"""`model=classifier`: PreGAN's few-shot classifier alone, trained once per seed for the
study's classifier-driven methods (the DVC stage `train_classifier`); they load it through
`classifier.pretrained` (`pregan.models.recovery.classifier_flagging.load_shared_classifier`).
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig

from pregan.models.recovery.classifier_flagging import ClassifierMethod
from pregan.simulation.config import ConfigError


class SharedClassifierMethod(ClassifierMethod):
    """`model=classifier`: only the classifier, trained once per seed for every method that
    names its folder in `classifier.pretrained` (the study's `train_classifier` stage). It
    recovers nothing: run it with `evaluation.test_episodes=false`."""

    def __init__(
        self, name: str = "classifier", classifier: DictConfig | None = None, **_: Any
    ) -> None:
        super().__init__(name, classifier, "conf/model/classifier.yaml")
        if classifier is not None and classifier.get("pretrained"):
            raise ConfigError(
                "conf/model/classifier.yaml: model=classifier trains the shared classifier; "
                f"classifier.pretrained={classifier.pretrained!r} would only load it"
            )

    def policy(self) -> Any:
        raise ConfigError(
            "model=classifier trains the shared classifier and has no recovery policy: run it "
            "with evaluation.test_episodes=false evaluation.val_episodes=false"
        )
