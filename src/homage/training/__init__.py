"""Training: configuration (:mod:`config`), corpus inputs (:mod:`data`), augmentation (:mod:`augment`),
batch samplers (:mod:`samplers`), losses (:mod:`losses`), the loop with resumable checkpoints
(:mod:`loop`, which loads PyTorch: ``pip install 'homage[train]'``) and curves (:mod:`curves`)."""
