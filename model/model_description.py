"""Model classes by name: the plug-in API of the ObjectNet demo.

Each class (or function) here is built with no arguments; its name is the MODEL_CLASS_NAME
you pass to the engine and the wizard. Add your own below, e.g.:

    class my_model(ResNet):
        def __init__(self):
            super().__init__(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=16)

Build the architecture only: weights come from your checkpoint, and the challenge runs with
no network, so never download anything here (no pretrained=True, weights=..., torch.hub).
"""

from torchvision.models.resnet import Bottleneck, ResNet


class resnet50(ResNet):
    """ResNet-50, 1000 ImageNet classes (torchvision layout)."""

    def __init__(self):
        super().__init__(Bottleneck, [3, 4, 6, 3])


class resnext101_32x48d_wsl(ResNet):
    """The demo's example: ResNeXt-101 32x48d (Facebook WSL), 1000 ImageNet classes."""

    def __init__(self):
        super().__init__(Bottleneck, [3, 4, 23, 3], groups=32, width_per_group=48)
