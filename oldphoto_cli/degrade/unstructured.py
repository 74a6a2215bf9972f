"""Unstructured degradations: whole-image blur, noise, compression, resolution and tone loss.

Every function is pure: ``fn(img, rng) -> (image, params)`` where ``img`` is float32
HxWx3 RGB in [0, 1], ``rng`` a :class:`numpy.random.Generator`, and ``params`` a
JSON-serialisable dict of what was drawn. The input is never modified in place.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from oldphoto_cli.imageio import LUMA

_LUMA = np.array(LUMA, dtype=np.float32)


def luminance(img: np.ndarray) -> np.ndarray:
    """Rec.601 luma of an RGB image, HxW float32."""
    return cv2.transform(img, _LUMA.reshape(1, 3))


def _clip(img: np.ndarray) -> np.ndarray:
    return np.clip(img, 0.0, 1.0, out=img)


def _r(x: float) -> float:
    return round(float(x), 4)


# --- blur ------------------------------------------------------------------------------


def gaussian_blur(img, rng):
    """Gaussian blur, kernel 3-7 (odd), sigma 1-5 (official code's range)."""
    k = int(rng.choice((3, 5, 7)))
    sigma = float(rng.uniform(1.0, 5.0))
    return cv2.GaussianBlur(img, (k, k), sigma), {"kernel": k, "sigma": _r(sigma)}


@lru_cache(maxsize=32)
def _disk(radius: float) -> np.ndarray:
    r = int(np.ceil(radius))
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    k = (x * x + y * y <= radius * radius + 0.5).astype(np.float32)
    return k / k.sum()


def defocus_blur(img, rng):
    """Out-of-focus blur with a flat disk kernel of radius 1-3 px."""
    radius = float(rng.uniform(1.0, 3.0))
    return cv2.filter2D(img, -1, _disk(round(radius * 2) / 2)), {"radius": _r(radius)}


def motion_blur(img, rng):
    """Slight camera shake: a line kernel 3-9 px long at a random angle."""
    length = int(rng.integers(3, 10))
    angle = float(rng.uniform(0.0, 180.0))
    k = np.zeros((length, length), np.float32)
    c = (length - 1) / 2
    dx, dy = np.cos(np.deg2rad(angle)) * c, np.sin(np.deg2rad(angle)) * c
    cv2.line(k, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1)
    k /= k.sum()
    return cv2.filter2D(img, -1, k), {"length": length, "angle": _r(angle)}


# Milder, recoverable blur (Real-ESRGAN's first-order kernels): what a scan of a slightly
# soft print shows, and what a restorer can learn to undo. The default blur group above
# (the official code's ranges) is often past recovery.


def _rotated_gaussian(sx: float, sy: float, theta: float, beta: float) -> np.ndarray:
    """A normalised 2-D kernel exp(-(d^T C^-1 d)^beta / 2), covariance rotated by theta:
    beta 1 is a Gaussian, above 1 a plateau (flatter top, sharper fall: closer to defocus)."""
    r = int(np.ceil(3 * max(sx, sy)))
    y, x = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float64)
    c, s = np.cos(theta), np.sin(theta)
    u, v = c * x + s * y, -s * x + c * y
    k = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2) ** beta)
    return (k / k.sum()).astype(np.float32)


def soft_blur(img, rng):
    """Anisotropic Gaussian or plateau blur, sigma 0.2-2.2 px per axis at a random angle."""
    sx, sy = (float(v) for v in rng.uniform(0.2, 2.2, 2))
    if rng.random() < 0.5:
        sy = sx  # half isotropic
    theta = float(rng.uniform(0.0, np.pi))
    beta = 1.0 if rng.random() < 0.7 else float(rng.uniform(1.0, 2.5))
    out = _clip(cv2.filter2D(img, -1, _rotated_gaussian(sx, sy, theta, beta),
                             borderType=cv2.BORDER_REFLECT))  # fmt: skip
    return out, {"sigma_x": _r(sx), "sigma_y": _r(sy), "angle": _r(np.rad2deg(theta)),
                 "beta": _r(beta)}  # fmt: skip


# --- noise -----------------------------------------------------------------------------


def _sigma(rng) -> float:
    """Noise sigma in [5, 50] /255, skewed towards mild noise (5 + 45 u^2)."""
    return (5.0 + 45.0 * float(rng.random()) ** 2) / 255.0


def _noise(rng, shape, mono: bool) -> np.ndarray:
    h, w, c = shape
    n = rng.standard_normal((h, w, 1) if mono else (h, w, c), dtype=np.float32)
    return n


def gaussian_noise(img, rng):
    """Additive Gaussian noise, sigma 5-50 /255 (skewed low), monochrome (p 0.7) or per channel."""
    sigma = _sigma(rng)
    mono = bool(rng.random() < 0.7)
    out = _noise(rng, img.shape, mono)
    out *= np.float32(sigma)
    out = out + img
    return _clip(out), {"sigma": _r(sigma * 255), "mono": mono}


def speckle_noise(img, rng):
    """Multiplicative noise ``img * (1 + n)``, sigma 5-50 /255."""
    sigma = _sigma(rng)
    mono = bool(rng.random() < 0.7)
    out = img * (1.0 + _noise(rng, img.shape, mono) * np.float32(sigma))
    return _clip(out), {"sigma": _r(sigma * 255), "mono": mono}


def poisson_noise(img, rng):
    """Shot noise with the Gaussian approximation ``sqrt(img / peak)``; sigma at mid-grey
    is 5-50 /255 (``peak`` is derived from it)."""
    sigma = _sigma(rng)
    peak = 0.5 / sigma**2  # std at img=0.5 equals sigma
    mono = bool(rng.random() < 0.7)
    std = np.sqrt(img * np.float32(1.0 / peak))
    out = img + _noise(rng, img.shape, mono) * std
    return _clip(out), {"sigma": _r(sigma * 255), "peak": _r(peak), "mono": mono}


def salt_pepper_noise(img, rng):
    """Salt-and-pepper: 0.1-1 % of pixels forced to black or white."""
    amount = float(rng.uniform(0.001, 0.01))
    h, w = img.shape[:2]
    u = rng.random((h, w), dtype=np.float32)
    out = img.copy()
    out[u < amount / 2] = 0.0
    out[(u >= amount / 2) & (u < amount)] = 1.0
    return out, {"amount": _r(amount)}


def film_grain(img, rng):
    """Luminance-dependent, spatially correlated grain (strongest in mid-tones).

    Noise is drawn at 1/1.5-1/3 resolution and upsampled bilinearly (grain clumps),
    amplitude 0.03-0.1 scaled by ``sqrt(4 l (1 - l))`` of the luminance ``l``.
    """
    h, w = img.shape[:2]
    scale = float(rng.uniform(1.5, 3.0))
    strength = float(rng.uniform(0.03, 0.1))
    gh, gw = max(2, round(h / scale)), max(2, round(w / scale))
    g = rng.standard_normal((gh, gw), dtype=np.float32)
    g = cv2.resize(g, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(strength * 1.4)
    lum = luminance(img)
    amp = np.sqrt(np.clip(4.0 * lum * (1.0 - lum), 0.05, 1.0))
    out = img + (g * amp)[..., None]
    return _clip(out), {"scale": _r(scale), "strength": _r(strength)}


# --- compression and resolution --------------------------------------------------------


def to_uint8(img: np.ndarray) -> np.ndarray:
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _jpeg_rgb(img: np.ndarray, params: list[int]) -> np.ndarray:
    """An RGB float image through ``cv2.imencode``/``imdecode`` with these JPEG params."""
    ok, buf = cv2.imencode(".jpg", to_uint8(img)[..., ::-1], params)
    if not ok:  # pragma: no cover - cv2 only fails on impossible inputs
        raise RuntimeError("cv2.imencode failed")
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) * np.float32(1 / 255)


def jpeg(img, rng):
    """Real JPEG round trip through ``cv2.imencode``, quality 40-100."""
    quality = int(rng.integers(40, 101))
    return _jpeg_rgb(img, [cv2.IMWRITE_JPEG_QUALITY, quality]), {"quality": quality}


def low_resolution(img, rng):
    """Downscale by 2-4 (area), upscale back with nearest or bilinear."""
    h, w = img.shape[:2]
    factor = float(rng.uniform(2.0, 4.0))
    up = "nearest" if rng.random() < 0.3 else "bilinear"
    small = cv2.resize(
        img, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA
    )
    interp = cv2.INTER_NEAREST if up == "nearest" else cv2.INTER_LINEAR
    out = cv2.resize(small, (w, h), interpolation=interp)
    return out, {"factor": _r(factor), "up": up}


_RESIZE_FILTERS = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR,
                   "bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}  # fmt: skip


def resample(img, rng):
    """Resolution loss a restorer can partly undo: down by 1.2-3 with a random filter,
    back up with another (bilinear, bicubic or Lanczos: no blocky nearest)."""
    h, w = img.shape[:2]
    factor = float(rng.uniform(1.2, 3.0))
    down = str(rng.choice(sorted(_RESIZE_FILTERS)))
    up = str(rng.choice(("bilinear", "bicubic", "lanczos")))
    small = cv2.resize(img, (max(1, round(w / factor)), max(1, round(h / factor))),
                       interpolation=_RESIZE_FILTERS[down])  # fmt: skip
    out = cv2.resize(small, (w, h), interpolation=_RESIZE_FILTERS[up])
    return _clip(out), {"factor": _r(factor), "down": down, "up": up}


def jpeg_strong(img, rng):
    """A JPEG round trip down to the qualities of web copies of scans: 15-95, chroma
    subsampled 4:2:0 (blocks, ringing and colour bleeding)."""
    quality = int(rng.integers(15, 96))
    params = [cv2.IMWRITE_JPEG_QUALITY, quality,
              cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]  # fmt: skip
    return _jpeg_rgb(img, params), {"quality": quality}


# --- tone and colour -------------------------------------------------------------------


def _color_matrix(img: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply a 3x3 (or 3x4 affine) colour matrix with one cv2 pass."""
    return cv2.transform(img, m.astype(np.float32))


_TO_GREY = np.tile(_LUMA, (3, 1))  # every output channel = luma


def fade(img, rng):
    """Colour fading: saturation loss 20-80 % and lifted blacks 0.03-0.2."""
    sat = float(rng.uniform(0.2, 0.8))
    lift = float(rng.uniform(0.03, 0.2))
    m = (np.eye(3) * (1 - sat) + _TO_GREY * sat) * (1 - lift)
    out = _color_matrix(img, np.hstack([m, np.full((3, 1), lift)]))
    return _clip(out), {"saturation_loss": _r(sat), "black_lift": _r(lift)}


_TINTS = {
    "sepia": np.array([1.07, 0.86, 0.62], np.float32),
    "yellow": np.array([1.04, 0.97, 0.68], np.float32),
    "brown": np.array([0.98, 0.80, 0.62], np.float32),
}


def tint(img, rng):
    """Sepia, yellowed or brown toning of the luminance, mixed 40-100 % with the input."""
    name = str(rng.choice(sorted(_TINTS)))
    amount = float(rng.uniform(0.4, 1.0))
    m = np.eye(3) * (1 - amount) + _TINTS[name][:, None] * _TO_GREY * amount
    return _clip(_color_matrix(img, m)), {"tint": name, "amount": _r(amount)}


def contrast_gamma(img, rng):
    """Contrast loss (0.45-0.9 around the mean) and gamma 0.7-1.5."""
    contrast = float(rng.uniform(0.45, 0.9))
    gamma = float(rng.uniform(0.7, 1.5))
    mean = np.float32(img.mean())
    out = (img - mean) * np.float32(contrast) + mean
    out = np.power(_clip(out), np.float32(gamma))
    return out, {"contrast": _r(contrast), "gamma": _r(gamma)}


@lru_cache(maxsize=16)
def _radius2(h: int, w: int) -> np.ndarray:
    y = (np.arange(h, dtype=np.float32) - (h - 1) / 2) / (h / 2)
    x = (np.arange(w, dtype=np.float32) - (w - 1) / 2) / (w / 2)
    return (y[:, None] ** 2 + x[None, :] ** 2) / 2.0


def vignette(img, rng):
    """Darkened corners: multiply by ``1 - s * r^2`` with strength s 0.2-0.6."""
    h, w = img.shape[:2]
    strength = float(rng.uniform(0.2, 0.6))
    falloff = 1.0 - np.float32(strength) * _radius2(h, w)
    return img * falloff[..., None], {"strength": _r(strength)}


def grayscale(img, rng):
    """Convert to grey (equal channels)."""
    return _color_matrix(img, _TO_GREY), {}


def paper_texture(img, rng):
    """Uneven paper / emulsion tone: low-frequency multiplicative mottling (2-8 %)
    plus fine fibre noise. Affects the whole image, so it is unstructured."""
    h, w = img.shape[:2]
    strength = float(rng.uniform(0.02, 0.08))
    cells = int(rng.integers(4, 12))
    low = rng.standard_normal((cells, cells), dtype=np.float32)
    low = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = rng.standard_normal((max(2, h // 2), max(2, w // 2)), dtype=np.float32)
    fine = cv2.resize(fine, (w, h), interpolation=cv2.INTER_LINEAR)
    tex = 1.0 + np.float32(strength) * (low + np.float32(0.3) * fine)
    return _clip(img * tex[..., None]), {"strength": _r(strength), "cells": cells}


def reapply_tone(img: np.ndarray, ops: list[dict]) -> np.ndarray:
    """Apply the ``grayscale`` and ``tint`` steps recorded in ``ops`` (a
    :class:`~oldphoto_cli.degrade.DegradeResult`'s list, in order) to ``img``.

    Training targets get the photo's own tone this way: a sepia or grey photo restored
    stays sepia or grey (no network can know the colours a grey print lost), so the
    mapping spends its capacity on structure instead of guessing colour.
    """
    out = img
    for op in ops:
        if op["name"] == "grayscale":
            out = _color_matrix(out, _TO_GREY)
        elif op["name"] == "tint":
            amount = np.float32(op["params"]["amount"])
            tone = _TINTS[op["params"]["tint"]]
            m = np.eye(3) * (1 - amount) + tone[:, None] * _TO_GREY * amount
            out = _clip(_color_matrix(out, m))
    return out
