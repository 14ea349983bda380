"""PyTorch references of Loom's models, shared by the benchmarks (bench/torch_*_bench.py) and
the golden files' scripts (test/golden/make_*_golden.py): one definition each, so that a
benchmark and a golden test compare Loom with the same network.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class VAE(nn.Module):
    """The book's convolutional VAE, as Loom's src/models/vae builds it, for C x H x W images."""

    def __init__(self, channels=1, height=28, width=28, latent=2):
        super().__init__()
        self.h2, self.w2 = (height + 1) // 2, (width + 1) // 2
        flat = 64 * self.h2 * self.w2
        self.conv1 = nn.Conv2d(channels, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, stride=2)
        self.conv3 = nn.Conv2d(64, 64, 3, padding=1)
        self.conv4 = nn.Conv2d(64, 64, 3, padding=1)
        self.fc = nn.Linear(flat, 32)
        self.z_mean = nn.Linear(32, latent)
        self.z_log_var = nn.Linear(32, latent)
        self.dec_fc = nn.Linear(latent, flat)
        # An odd side comes back odd: the transposed convolution pads its output by one less.
        pad = (1 - height % 2, 1 - width % 2)
        self.deconv = nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=pad)
        self.dec_out = nn.Conv2d(32, channels, 3, padding=1)

    def terms(self, x, eps):
        """Per image: reconstruction and KL terms of the -ELBO (nats), and the encoder's outputs."""
        y = F.relu(self.conv1(x))
        y = F.relu(self.conv2(y))
        y = F.relu(self.conv3(y))
        y = F.relu(self.conv4(y))
        y = F.relu(self.fc(y.flatten(1)))
        mean, log_var = self.z_mean(y), self.z_log_var(y)
        z = mean + torch.exp(log_var / 2) * eps
        d = F.relu(self.dec_fc(z)).reshape(-1, 64, self.h2, self.w2)
        logits = self.dec_out(F.relu(self.deconv(d)))
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        kl = -0.5 * torch.sum(1 + log_var - mean ** 2 - log_var.exp(), dim=1)
        return rec, kl, mean, log_var

    def per_image_loss(self, x):
        """Each image's -ELBO (nats), with fresh noise."""
        rec, kl, mean, _ = self.terms(x, torch.randn(x.shape[0], self.z_mean.out_features, device=x.device))
        return rec + kl

    def loss(self, x):
        """The batch's mean -ELBO, with fresh noise."""
        return self.per_image_loss(x).mean()


class KerasGenerator(nn.Module):
    """The book's Keras GAN generator (Loom's `--recipe keras`) for C x 32 x 32 images: a dense
    layer to 128 x 16 x 16, three 5x5 convolutions around a stride-2 transposed one, leaky ReLU
    0.3, and a 7x7 convolution to tanh."""

    def __init__(self, latent=32, channels=3):
        super().__init__()
        self.fc = nn.Linear(latent, 128 * 16 * 16)
        self.conv1 = nn.Conv2d(128, 256, 5, padding=2)
        self.up = nn.ConvTranspose2d(256, 256, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(256, 256, 5, padding=2)
        self.conv3 = nn.Conv2d(256, 256, 5, padding=2)
        self.out = nn.Conv2d(256, channels, 7, padding=3)

    def forward(self, z):
        x = F.leaky_relu(self.fc(z), 0.3).reshape(-1, 128, 16, 16)
        for layer in (self.conv1, self.up, self.conv2, self.conv3):
            x = F.leaky_relu(layer(x), 0.3)
        return torch.tanh(self.out(x))


class KerasDiscriminator(nn.Module):
    """The book's Keras GAN discriminator for C x 32 x 32 images: four convolutions with leaky
    ReLU 0.3, dropout 0.4 and one logit."""

    def __init__(self, channels=3):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 128, 3)
        self.conv2 = nn.Conv2d(128, 128, 4, stride=2)
        self.conv3 = nn.Conv2d(128, 128, 4, stride=2)
        self.conv4 = nn.Conv2d(128, 128, 4, stride=2)
        self.drop = nn.Dropout(0.4)
        self.fc = nn.Linear(128 * 2 * 2, 1)

    def forward(self, x):
        for layer in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = F.leaky_relu(layer(x), 0.3)
        return self.fc(self.drop(x.flatten(1)))


class DcganGenerator(nn.Module):
    """Loom's DcganGenerator (Radford et al.'s, sized from the data) for C x S x S images with
    `ups` doublings of the side: a dense layer (no bias) to the smallest map, f << (ups - 1)
    channels at side S >> ups, batch norm and ReLU; transposed convolutions (kernel 4, stride 2)
    that double the side and halve the width, batch norm and ReLU between them; tanh. With
    classes, a one-hot label joins the latent point. The names are Loom's (fc, norm0, upI, normI)."""

    def __init__(self, latent, filters, channels=1, size=16, classes=0, ups=2):
        super().__init__()
        self.classes, self.first = classes, (filters << (ups - 1), size >> ups, size >> ups)
        self.fc = nn.Linear(latent + classes, self.first[0] * self.first[1] * self.first[2], bias=False)
        self.norm0 = nn.BatchNorm2d(self.first[0])
        self.ups, self.norms = [], []
        for i in range(ups):
            out = channels if i == ups - 1 else filters << (ups - 2 - i)
            self.ups.append(nn.ConvTranspose2d(filters << (ups - 1 - i), out, 4, 2, 1, bias=i == ups - 1))
            self.add_module(f"up{i}", self.ups[-1])
            if i < ups - 1:
                self.norms.append(nn.BatchNorm2d(out))
                self.add_module(f"norm{i + 1}", self.norms[-1])

    def forward(self, z, y=None):
        if self.classes:
            z = torch.cat([z, F.one_hot(y, self.classes).float()], 1)
        x = F.relu(self.norm0(self.fc(z).view(-1, *self.first)))
        for up, norm in zip(self.ups, self.norms):
            x = F.relu(norm(up(x)))
        return torch.tanh(self.ups[-1](x))


class DcganDiscriminator(nn.Module):
    """Loom's DcganDiscriminator: `downs` strided convolutions (kernel 4, stride 2) that halve the
    side and double the width from f, leaky ReLU 0.2, batch norm after all but the first, and one
    logit (no dropout: the golden files compare in training mode). With classes, the projection
    discriminator's term (Miyato and Koyama 2018): the features' dot product with the label's
    embedding, stored as Loom lays it out, [features, classes]."""

    def __init__(self, filters, channels=1, size=16, classes=0, downs=2):
        super().__init__()
        self.classes = classes
        self.downs, self.norms = [], []
        for i in range(downs):
            self.downs.append(nn.Conv2d(channels if i == 0 else filters << (i - 1), filters << i, 4, 2, 1, bias=i == 0))
            self.add_module(f"down{i}", self.downs[-1])
            if i > 0:
                self.norms.append(nn.BatchNorm2d(filters << i))
                self.add_module(f"norm{i}", self.norms[-1])
        features = (filters << (downs - 1)) * (size >> downs) ** 2
        self.fc = nn.Linear(features, 1)
        if classes:
            self.embed = nn.Linear(classes, features, bias=False)

    def forward(self, x, y=None):
        h = F.leaky_relu(self.downs[0](x), 0.2)
        for down, norm in zip(self.downs[1:], self.norms):
            h = F.leaky_relu(norm(down(h)), 0.2)
        h = h.flatten(1)
        logit = self.fc(h)
        if self.classes:
            logit = logit + (self.embed(F.one_hot(y, self.classes).float()) * h).sum(1, keepdim=True)
        return logit


class Attention(nn.Module):
    """Causal self-attention as nanoGPT writes it (one qkv projection, masked softmax), with an
    optional key/value cache: `cache` is ([k per layer], [v per layer]) of [B, heads, block, hd],
    written from position `start`."""

    def __init__(self, embed, heads, block):
        super().__init__()
        self.embed, self.heads = embed, heads
        self.qkv = nn.Linear(embed, 3 * embed)
        self.proj = nn.Linear(embed, embed)
        self.register_buffer("future", torch.tril(torch.ones(block, block)) == 0, persistent=False)

    def forward(self, x, cache=None, layer=0, start=0):
        b, t, c = x.shape
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in self.qkv(x).split(self.embed, dim=2))
        if cache is not None:
            cache[0][layer][:, :, start:start + t] = k
            cache[1][layer][:, :, start:start + t] = v
            k, v = cache[0][layer][:, :, :start + t], cache[1][layer][:, :, :start + t]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // self.heads))
        if t > 1:
            att = att.masked_fill(self.future[start:start + t, :start + t], float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.proj(y.transpose(1, 2).contiguous().view(b, t, c))


class Mlp(nn.Module):
    def __init__(self, embed):
        super().__init__()
        self.fc = nn.Linear(embed, 4 * embed)
        self.proj = nn.Linear(4 * embed, embed)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    """A pre-norm transformer block: x + attention(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, embed, heads, block):
        super().__init__()
        self.ln1 = nn.LayerNorm(embed)
        self.attn = Attention(embed, heads, block)
        self.ln2 = nn.LayerNorm(embed)
        self.mlp = Mlp(embed)

    def forward(self, x, cache=None, layer=0, start=0):
        x = x + self.attn(self.ln1(x), cache, layer, start)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """Loom's character transformer (`--model gpt`), as nanoGPT writes it: token and learned
    position embeddings, pre-norm blocks, a final layer norm, the output tied to the token
    embedding; the parameter names are Loom's. forward() gives the logits; with a list as
    `outputs`, each block's output is appended to it."""

    def __init__(self, vocab, embed, heads, layers, block):
        super().__init__()
        self.wte = nn.Embedding(vocab, embed)
        self.wpe = nn.Embedding(block, embed)
        self.blocks = nn.ModuleList([Block(embed, heads, block) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(embed)

    def forward(self, ids, cache=None, start=0, outputs=None):
        x = self.wte(ids) + self.wpe(torch.arange(start, start + ids.shape[1]))
        for i, b in enumerate(self.blocks):
            x = b(x, cache, i, start)
            if outputs is not None:
                outputs.append(x)
        return F.linear(self.ln_f(x), self.wte.weight)
