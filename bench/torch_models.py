"""PyTorch references of Loom's models, shared by the benchmarks (bench/torch_*_bench.py) and
the golden files' scripts (test/golden/make_*_golden.py): one definition each, so that a
benchmark and a golden test compare Loom with the same network.
"""
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
