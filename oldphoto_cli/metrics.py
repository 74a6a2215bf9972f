"""Image quality and detection metrics.

PSNR is computed here (a one-liner); SSIM comes from scikit-image (the ``eval`` extra),
a well-kept implementation, rather than our own.
"""

from __future__ import annotations

import numpy as np
import torch


def psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, peak: float = 1.0) -> float:
    """PSNR in dB between two images on the same scale (peak-to-peak ``peak``)."""
    a_arr = a.detach().cpu().double().numpy() if torch.is_tensor(a) else np.asarray(a, np.float64)
    b_arr = b.detach().cpu().double().numpy() if torch.is_tensor(b) else np.asarray(b, np.float64)
    mse = float(np.mean((a_arr - b_arr) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak**2 / mse)


def tone_fit(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``output`` after the best per-channel affine tone map ``a * output + b`` onto
    ``reference`` (least squares): what is left differs from the reference in structure
    (noise, blur, blocks, damage), not in global tone, which no blind method can know.

    Shapes: HxWxC (or HxW) float images; returns float64, same shape.
    """
    out = np.asarray(output, np.float64)
    ref = np.asarray(reference, np.float64)
    channels = out.shape[-1] if out.ndim == 3 else 1
    x_all, y_all = out.reshape(-1, channels), ref.reshape(-1, channels)
    fitted = np.empty_like(x_all)
    for c in range(channels):
        x, y = x_all[:, c], y_all[:, c]
        var = float(x.var())
        a = float(((x - x.mean()) * (y - y.mean())).mean() / var) if var > 1e-12 else 0.0
        fitted[:, c] = a * x + (y.mean() - a * x.mean())
    return fitted.reshape(out.shape)


def tone_fitted_psnr(output: np.ndarray, reference: np.ndarray) -> float:
    """PSNR after :func:`tone_fit`: the structure score."""
    return psnr(tone_fit(output, reference), reference)


def masked_psnr(output: np.ndarray, reference: np.ndarray, mask: np.ndarray,
                fit_tone: bool = True) -> float | None:  # fmt: skip
    """PSNR over the pixels of ``mask`` (HxW) alone, after the whole image's tone fit
    (``fit_tone``); None when the mask is empty."""
    keep = np.asarray(mask) > 0
    if not keep.any():
        return None
    out = tone_fit(output, reference) if fit_tone else np.asarray(output, np.float64)
    return psnr(out[keep], np.asarray(reference, np.float64)[keep])


INTACT_MARGIN = 8  # px from the damage: beyond it a pixel should not need repairing


def intact_psnr(output: np.ndarray, reference: np.ndarray, mask: np.ndarray,
                margin: int = INTACT_MARGIN) -> float | None:  # fmt: skip
    """Tone-fitted PSNR over the pixels farther than ``margin`` px from ``mask``, the tone
    fitted on those pixels alone (a repaired hole does not sway it): what a repair did to
    the rest of the photo. None when the mask is empty or leaves no such pixel."""
    import cv2

    damage = (np.asarray(mask) > 0).astype(np.uint8)
    if not damage.any():
        return None
    far = cv2.distanceTransform(1 - damage, cv2.DIST_L2, 3) > margin
    if not far.any():
        return None
    out, ref = np.asarray(output)[far][None], np.asarray(reference, np.float64)[far][None]
    return psnr(tone_fit(out, ref), ref)  # (1, N, C): tone_fit sees the channels


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of HxWx3 (or HxW) float images in [0, 1] (scikit-image, Gaussian weights)."""
    from skimage.metrics import structural_similarity

    channel_axis = -1 if a.ndim == 3 else None
    return float(
        structural_similarity(
            a, b, data_range=1.0, channel_axis=channel_axis, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False,
        )
    )  # fmt: skip


def detection_scores(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pixel precision, recall, F1 and IoU of binary masks (counts pooled over inputs)."""
    pred, truth = np.asarray(pred).astype(bool), np.asarray(truth).astype(bool)
    tp = float(np.logical_and(pred, truth).sum())
    fp = float(np.logical_and(pred, ~truth).sum())
    fn = float(np.logical_and(~pred, truth).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    iou = tp / (tp + fp + fn) if tp + fp + fn else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "iou": iou}


def gradient_energy(img: np.ndarray) -> float:
    """Mean squared Sobel gradient of the luminance of an HxWx3 (or HxW) [0, 1] image."""
    import cv2

    arr = np.asarray(img, np.float32)
    lum = arr if arr.ndim == 2 else arr[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
    gx = cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.mean(gx * gx + gy * gy))


def sharpness(output: np.ndarray, reference: np.ndarray) -> float:
    """Gradient energy of ``output`` over that of ``reference``: 1 keeps the reference's
    detail, below 1 is smoother (paint), above 1 is harsher (noise, halos)."""
    return gradient_energy(output) / max(gradient_energy(reference), 1e-12)
