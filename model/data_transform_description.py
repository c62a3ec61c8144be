"""Preprocessing: everything after the engine crops ObjectNet's 2-pixel red border.

`data_transform().getTransform()` must return a callable turning an RGB PIL image into a
CxHxW tensor. This is the standard ImageNet evaluation transform.
"""

import torchvision.transforms as transforms

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class data_transform:
    def __init__(self):
        self.size = 224

    def getTransform(self):
        return transforms.Compose([
            transforms.Resize(self.size),
            transforms.CenterCrop(self.size),
            transforms.ToTensor(),
            transforms.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD),
        ])
