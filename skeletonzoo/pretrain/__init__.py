"""Pretraining: batched augmentations, MoCo machinery, one module per method, trainer, recipes.

Not imported by ``import skeletonzoo``. Entry point: ``skeletonzoo-pretrain``.
"""
