"""ULMFiT review classification for small labelled data: honest evaluation, costs and class distributions

Modules:

- `reviewclf.classifier`: ULMFiT's third stage: the fine-tuned language model's encoder under a classifier head, trained a few layers at a time with discriminative learning rates, a weighted loss, and a model folder that loads without pickle."""

__version__ = "0.0.1"
