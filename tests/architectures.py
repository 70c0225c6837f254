"""Small re-implementations of the zoo's CIFAR architectures, with the zoo's state-dict key names, for the
alignment tests: pytorch-cifar's ResNet18 and VGG, DenseNet-40 (no bottleneck, concatenations) and a
pre-activation WideResNet, plus tiny networks with a residual on the input and a conv -> flatten -> linear.
Widths are parameters so that the tests run at tiny width."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """pytorch-cifar: relu(bn2(conv2(relu(bn1(conv1 x)))) + shortcut x), shortcut = conv1x1+BN or identity."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return F.relu(out)


class ResNet18Cifar(nn.Module):
    def __init__(self, width: int = 64, n_classes: int = 10, blocks=(2, 2, 2, 2), in_channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        cin = width
        for stage, n in enumerate(blocks, start=1):
            cout = width * 2 ** (stage - 1)
            layer = [BasicBlock(cin if i == 0 else cout, cout, (1 if stage == 1 else 2) if i == 0 else 1)
                     for i in range(n)]
            setattr(self, f"layer{stage}", nn.Sequential(*layer))
            cin = cout
        self.linear = nn.Linear(cin, n_classes)

    def forward(self, x):
        return self.rest(self.stem(x))

    # forward(x) == rest(stem(x)), as the zoo's models (barrier.curve relies on it)
    def stem(self, x):
        return self.conv1(x)

    def rest(self, z):
        out = F.relu(self.bn1(z))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        out = F.avg_pool2d(out, out.shape[-1])
        return self.linear(out.view(out.size(0), -1))


VGG_PLANS = {"vgg11": (1, "M", 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M"),
             "vgg19": (1, 1, "M", 2, 2, "M", 4, 4, 4, 4, "M", 8, 8, 8, 8, "M", 8, 8, 8, 8, "M")}


class VGG(nn.Module):
    """pytorch-cifar: `features` = [conv3x3 (bias), (BN), ReLU] per entry, max-pool per "M"; one Linear."""

    def __init__(self, plan: str, width: int = 64, batchnorm: bool = True, n_classes: int = 10):
        super().__init__()
        layers, cin = [], 3
        for entry in VGG_PLANS[plan]:
            if entry == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            layers.append(nn.Conv2d(cin, width * entry, 3, padding=1))
            layers += [nn.BatchNorm2d(width * entry)] if batchnorm else []
            layers.append(nn.ReLU(inplace=True))
            cin = width * entry
        layers.append(nn.AvgPool2d(1, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(cin, n_classes)

    def forward(self, x):
        out = self.features(x)
        return self.classifier(out.view(out.size(0), -1))


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, growth, 3, padding=1, bias=False)

    def forward(self, x):
        return torch.cat([x, self.conv1(F.relu(self.bn1(x)))], 1)


class Transition(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv1 = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x):
        return F.avg_pool2d(self.conv1(F.relu(self.bn1(x))), 2)


class DenseBlock(nn.Module):
    def __init__(self, cin: int, growth: int, n_layers: int):
        super().__init__()
        self.layer = nn.Sequential(*(DenseLayer(cin + i * growth, growth) for i in range(n_layers)))

    def forward(self, x):
        return self.layer(x)


class DenseNet40(nn.Module):
    """DenseNet-40-k without bottleneck or compression: stem conv to 2k, 3 blocks of 12 BN-ReLU-conv3x3
    layers each concatenating k channels, BN-ReLU-conv1x1-avgpool transitions, BN-ReLU-pool-Linear."""

    def __init__(self, growth: int = 12, n_classes: int = 10, layers_per_block: int = 12):
        super().__init__()
        channels = 2 * growth
        self.conv1 = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        for b in (1, 2, 3):
            setattr(self, f"block{b}", DenseBlock(channels, growth, layers_per_block))
            channels += layers_per_block * growth
            if b < 3:
                setattr(self, f"trans{b}", Transition(channels))
        self.bn1 = nn.BatchNorm2d(channels)
        self.fc = nn.Linear(channels, n_classes)

    def forward(self, x):
        out = self.trans2(self.block2(self.trans1(self.block1(self.conv1(x)))))
        out = F.relu(self.bn1(self.block3(out)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(out, 1), 1))


class WideBlock(nn.Module):
    """Pre-activation: conv2(relu(bn2(conv1(relu(bn1 x))))) + (x, or a 1x1 conv of relu(bn1 x))."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.dropout = nn.Dropout(0.3)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.convShortcut = nn.Conv2d(cin, cout, 1, stride, bias=False) if cin != cout or stride != 1 else None

    def forward(self, x):
        act = F.relu(self.bn1(x))
        out = self.conv2(self.dropout(F.relu(self.bn2(self.conv1(act)))))
        return out + (x if self.convShortcut is None else self.convShortcut(act))


class WideGroup(nn.Module):
    def __init__(self, cin: int, cout: int, n: int, stride: int):
        super().__init__()
        self.layer = nn.Sequential(*(WideBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1)
                                     for i in range(n)))

    def forward(self, x):
        return self.layer(x)


class WideResNet(nn.Module):
    """WRN-depth-k: stem conv to `stem` channels, 3 groups of (depth-4)/6 blocks at stem*k*(1, 2, 4)."""

    def __init__(self, depth: int = 16, widen_factor: int = 1, stem: int = 16, n_classes: int = 10):
        super().__init__()
        n = (depth - 4) // 6
        widths = [stem * widen_factor * 2**i for i in range(3)]
        self.conv1 = nn.Conv2d(3, stem, 3, 1, 1, bias=False)
        self.block1 = WideGroup(stem, widths[0], n, 1)
        self.block2 = WideGroup(widths[0], widths[1], n, 2)
        self.block3 = WideGroup(widths[1], widths[2], n, 2)
        self.bn1 = nn.BatchNorm2d(widths[2])
        self.fc = nn.Linear(widths[2], n_classes)

    def forward(self, x):
        out = self.block3(self.block2(self.block1(self.conv1(x))))
        out = F.adaptive_avg_pool2d(F.relu(self.bn1(out)), 1)
        return self.fc(out.flatten(1))


class ConvFlattenLinear(nn.Module):
    """conv -> BN -> ReLU -> pool to 4x4 -> flatten (C*4*4 features) -> Linear -> ReLU -> Linear."""

    def __init__(self, channels: int = 4, hidden: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(channels)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc1 = nn.Linear(channels * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        out = torch.flatten(self.pool(F.relu(self.bn(self.conv(x)))), 1)
        return self.fc2(F.relu(self.fc1(out)))


class InputResidual(nn.Module):
    """x + conv(x) on the input: the input's channels reach the first stream, so that stream is fixed."""

    def __init__(self, channels: int = 3, hidden: int = 6):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.inner = nn.Conv2d(channels, hidden, 3, padding=1)
        self.head = nn.Linear(hidden, 10)

    def forward(self, x):
        out = x + self.conv(x)
        return self.head(F.relu(self.inner(out)).mean((2, 3)))


class KeywordInputs(nn.Module):
    """A chain written with every input passed by keyword: layers (`self.conv1(input=x)`), functions
    (`F.relu(input=...)`, `torch.relu(input=...)`, `torch.sigmoid(input=...)`) and, before the Linear layers,
    `torch.flatten(input=..., start_dim=1)` (pool="flatten", C*4*4 features) or `torch.mean(input=..., dim=...)`
    (pool="mean", C features). conv1 -> BN -> conv2 -> pool to 4x4 -> fc1 -> BN -> fc2."""

    def __init__(self, channels: int = 4, hidden: int = 8, pool: str = "flatten"):
        super().__init__()
        self.flatten = pool == "flatten"
        self.conv1 = nn.Conv2d(1, channels, 3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc1 = nn.Linear(channels * 16 if self.flatten else channels, hidden)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x):
        out = F.relu(input=self.bn1(input=self.conv1(input=x)))
        out = self.pool(input=torch.relu(input=self.conv2(input=out)))
        out = torch.flatten(input=out, start_dim=1) if self.flatten else torch.mean(input=out, dim=(2, 3))
        return self.fc2(input=torch.sigmoid(input=self.bn2(input=self.fc1(input=out))))


class LayerCalledTwice(nn.Module):
    """One Linear layer applied twice: its input units are the network's inputs at the first call and its own
    outputs at the second, so no permutation of them fits both (alignment refuses it)."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(F.relu(self.fc(F.relu(self.fc(x)))))
