"""objectnet-wizard: from a trained PyTorch classifier to a tested ObjectNet challenge image.

The core modules (answers, base_images, checkpoint_info, dockerfile, validators) import
neither Docker nor Textual, so they can be used and tested on their own.
"""

__version__ = "0.1.0"
