"""ObjectNet batch-inference engine.

Runs on the user's machine and inside the submitted Docker image, so it depends only on
torch, torchvision and Pillow (pyspng, safetensors and Rich are used when present) and stays
compatible with Python 3.8 and torch 1.8.
"""

__version__ = "0.1.0"
