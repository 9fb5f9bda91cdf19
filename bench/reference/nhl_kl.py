"""The NHL+KL loss and the AdamW step of KtuGate's deep edit, in PyTorch, shared by the bench/reference scripts.

Loss per exemplar, summed (src/KtuGate.Core/Unlearning/MethodLoss.cs), in float64 over the scores z = scale * D y / |y| (a dual encoder)
or the logits (a classifier): forget rows w_forget * max(0, max forbidden z - max allowed z + margin) + w_coarse * coarse cross-entropy
to the original's group distribution; retain rows w_retain * cross-entropy to the original's class distribution. AdamW as
src/KtuGate.Core/Gradients/GradientTrainer.cs: betas (0.9, 0.999), eps 1e-8, decay towards the original weights.
"""
import time

import torch


def nhl_kl(z, p_ref, forbidden, allowed, groups, w_forget, w_retain, w_coarse, margin):
    """z [rows, classes] float64; forbidden and allowed [rows, classes] 0/1 masks; groups [classes, groups]; weights [rows]."""
    log_p = torch.log_softmax(z, dim=1)
    p = log_p.exp()
    low = torch.tensor(-1e30, dtype=z.dtype)
    hinge = torch.relu(torch.where(forbidden > 0, z, low).max(dim=1).values - torch.where(allowed > 0, z, low).max(dim=1).values + margin)
    retain = -(p_ref * log_p).sum(dim=1)
    coarse = -((p_ref @ groups) * torch.log(p @ groups)).sum(dim=1)
    return (w_forget * hinge + w_retain * retain + w_coarse * coarse).sum()


class AdamW:
    """AdamW with decay towards the original weights, as KtuGate's trainer."""

    def __init__(self, params, lr, decay):
        self.params, self.lr, self.decay, self.t = list(params), lr, decay, 0
        self.original = [p.detach().clone() for p in self.params]
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        self.t += 1
        c1, c2 = 1 - 0.9 ** self.t, 1 - 0.999 ** self.t
        for p, p0, m, v in zip(self.params, self.original, self.m, self.v):
            g = p.grad
            m.mul_(0.9).add_(g, alpha=0.1)
            v.mul_(0.999).addcmul_(g, g, value=0.001)
            p.sub_(self.lr * ((m / c1) / ((v / c2).sqrt() + 1e-8) + self.decay * (p - p0)))


def timed_steps(loss_fn, optimizer, warm_up, steps, parts=None):
    """The loss at the starting weights, the loss of the last step and the mean seconds per step after `warm_up` steps.

    `parts`: row slices of the batch; each step then runs loss_fn(part) on each and accumulates the gradients (the rows' weights are
    shares of the whole batch, so the sum is the whole batch's loss and gradient), as KtuGate feeds a large batch. Else loss_fn().
    """
    def losses():
        return [loss_fn()] if parts is None else (loss_fn(part) for part in parts)

    def step():
        for p in optimizer.params:
            p.grad = None
        total = 0.0
        for loss in losses():
            loss.backward()
            total += loss.item()
        optimizer.step()
        return total

    with torch.no_grad():
        loss0 = sum(loss.item() for loss in losses())
    for _ in range(warm_up):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        last = step()
    return loss0, last, (time.perf_counter() - start) / steps
