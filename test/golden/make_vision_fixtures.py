# Writes tiny backbone weight files in the layouts Loom imports, and PyTorch's outputs for them:
#   vgg_tiny_keras.h5   Keras layout (block1_conv1/block1_conv1/kernel:0, HWIO), as h5py writes
#   vgg_tiny_tv.pth     torchvision layout (features.N.weight, OIHW) plus classifier keys to drop
#   vision_golden.json  the input and the block outputs of each, from a PyTorch VGG19 at width 1/16
# Run: /usr/bin/python3 test/golden/make_vision_fixtures.py  (PyTorch 1.13, h5py from Debian)
import json, os
import h5py, numpy as np, torch
import torch.nn.functional as F

torch.manual_seed(0)
here = os.path.dirname(os.path.abspath(__file__))
blocks, channels = [2, 2, 4, 4, 4], [4, 8, 16, 32, 32]  # VGG19 at width 1/16

convs = []  # (keras name, torchvision index, weight OIHW, bias)
index, in_c = 0, 3
for b, (n, c) in enumerate(zip(blocks, channels)):
    for i in range(n):
        w = torch.randn(c, in_c, 3, 3) * (2.0 / (in_c * 9)) ** 0.5
        convs.append((f"block{b+1}_conv{i+1}", index, w, torch.randn(c) * 0.1))
        index += 2
        in_c = c
    index += 1

def forward(x, preprocess):
    x = preprocess(x)
    outs, k = {}, 0
    for b, n in enumerate(blocks):
        for i in range(n):
            name, _, w, bias = convs[k]; k += 1
            x = F.relu(F.conv2d(x, w, bias, padding=1))
            outs[name] = x
        x = F.max_pool2d(x, 2, 2)
        outs[f"block{b+1}_pool"] = x
    return outs

img = torch.rand(1, 3, 40, 48)
caffe = lambda x: x.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
tv = lambda x: (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
enc = lambda t: {"shape": list(t.shape), "data": t.flatten().tolist()}
golden = {"input": enc(img)}
for tag, pre in [("keras", caffe), ("torchvision", tv)]:
    outs = forward(img, pre)
    golden[tag] = {k: enc(outs[k]) for k in ["block1_conv2", "block3_conv4", "block5_conv4", "block5_pool"]}

with h5py.File(os.path.join(here, "vgg_tiny_keras.h5"), "w") as f:
    f.attrs["layer_names"] = np.array([c[0].encode() for c in convs])
    for name, _, w, bias in convs:
        g = f.create_group(name).create_group(name)
        g.create_dataset("kernel:0", data=w.permute(2, 3, 1, 0).numpy())
        g.create_dataset("bias:0", data=bias.numpy())

sd = {}
for _, i, w, bias in convs:
    sd[f"features.{i}.weight"] = w
    sd[f"features.{i}.bias"] = bias
sd["classifier.0.weight"] = torch.randn(8, 32)
torch.save(sd, os.path.join(here, "vgg_tiny_tv.pth"))
with open(os.path.join(here, "vision_golden.json"), "w") as f:
    json.dump(golden, f)
