"""Training GANimation: data preparation, data set, critic, losses and the training loop.

Modules: ``prepare`` (photos -> aligned, AU-labelled shards), ``data`` (shards -> batches),
``critic`` (PatchGAN WGAN critic with an AU head), ``losses`` (pure functions), ``loop``
(the Trainer), ``ddp`` (torchrun / DistributedDataParallel helpers). The periodic evaluation is
passed in (``train(..., evaluate=...)``); ``reenact train`` passes ``reenact eval``'s harness
(``reenact.pipelines.evaluation.periodic.PeriodicEval``).
"""
