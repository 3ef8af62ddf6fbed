"""An independent ResNet-18 reference: torchvision's state_dict key layout and a functional
forward pass, both written from the architecture's table (He et al. 2016), not from qaxai's
module."""

import torch
import torch.nn.functional as F


def torchvision_layout(num_classes=1000, seed=0):
    """A random state_dict in torchvision's resnet18 key layout, written from the paper's
    table (He et al. 2016), not from qaxai's module."""
    g = torch.Generator().manual_seed(seed)
    state = {}

    def bn(prefix, c):
        state[f"{prefix}.weight"] = 1.0 + 0.1 * torch.randn(c, generator=g)
        state[f"{prefix}.bias"] = 0.1 * torch.randn(c, generator=g)
        state[f"{prefix}.running_mean"] = 0.1 * torch.randn(c, generator=g)
        state[f"{prefix}.running_var"] = 0.5 + torch.rand(c, generator=g)
        state[f"{prefix}.num_batches_tracked"] = torch.tensor(7)

    def conv(name, cout, cin, k):
        state[name] = torch.randn(cout, cin, k, k, generator=g) * (2.0 / (cin * k * k)) ** 0.5

    conv("conv1.weight", 64, 3, 7)
    bn("bn1", 64)
    cin = 64
    for stage, cout in zip((1, 2, 3, 4), (64, 128, 256, 512)):
        for block in (0, 1):
            p = f"layer{stage}.{block}"
            conv(f"{p}.conv1.weight", cout, cin if block == 0 else cout, 3)
            bn(f"{p}.bn1", cout)
            conv(f"{p}.conv2.weight", cout, cout, 3)
            bn(f"{p}.bn2", cout)
            if block == 0 and stage > 1:
                conv(f"{p}.downsample.0.weight", cout, cin, 1)
                bn(f"{p}.downsample.1", cout)
        cin = cout
    state["fc.weight"] = 0.05 * torch.randn(num_classes, 512, generator=g)
    state["fc.bias"] = 0.05 * torch.randn(num_classes, generator=g)
    return state


def functional_resnet18(state, x, upto=4):
    """ResNet-18's forward pass from a state_dict with torch.nn.functional only."""
    def bn(h, p):
        return F.batch_norm(h, state[f"{p}.running_mean"], state[f"{p}.running_var"],
                            state[f"{p}.weight"], state[f"{p}.bias"], False, 0.0, 1e-5)

    h = F.relu(bn(F.conv2d(x, state["conv1.weight"], stride=2, padding=3), "bn1"))
    h = F.max_pool2d(h, 3, 2, 1)
    for stage in range(1, upto + 1):
        for block in (0, 1):
            p = f"layer{stage}.{block}"
            stride = 2 if (block == 0 and stage > 1) else 1
            out = F.relu(bn(F.conv2d(h, state[f"{p}.conv1.weight"], stride=stride, padding=1),
                            f"{p}.bn1"))
            out = bn(F.conv2d(out, state[f"{p}.conv2.weight"], padding=1), f"{p}.bn2")
            if f"{p}.downsample.0.weight" in state:
                h = bn(F.conv2d(h, state[f"{p}.downsample.0.weight"], stride=stride),
                       f"{p}.downsample.1")
            h = F.relu(out + h)
    if upto < 4:
        return h
    return F.linear(h.mean(dim=(2, 3)), state["fc.weight"], state["fc.bias"])
