"""Where a page's pixels go when it is straightened and turned: the affine matrices, the output frame, the
resampling onto white paper, and boxes found on the analysis copy mapped onto the output."""

from __future__ import annotations

import cv2
import numpy as np


def output_geometry(width: int, height: int, angle: float, paper: np.ndarray | None,
                     factor: float) -> tuple[np.ndarray, int, int]:
    """Affine matrix (source → output) turning by `angle` degrees CCW, and the output size.

    The output frames the whole turned image, or, when the bed showed, just the turned paper (nothing on the
    paper is cut: the frame is the bounding box of the paper mask turned the same way).
    """
    m = cv2.getRotationMatrix2D((width / 2.0, height / 2.0), angle, 1.0)
    if paper is not None:
        contours, _ = cv2.findContours(paper.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        edge = np.concatenate([c.reshape(-1, 2) for c in contours]).astype(np.float32)
        # both corners of every boundary pixel, at full resolution
        hull = np.concatenate([edge, edge + 1]) * factor
    else:
        hull = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=np.float32)
    turned = hull @ m[:, :2].T + m[:, 2]
    x0, y0 = np.floor(turned.min(axis=0))
    x1, y1 = np.ceil(turned.max(axis=0))
    m[0, 2] -= x0
    m[1, 2] -= y0
    return m, int(x1 - x0), int(y1 - y0)


def warp_onto_white(arr: np.ndarray, m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample an array through an affine matrix onto a white canvas of a size (w, h)."""
    if (np.allclose(m[:, :2], np.eye(2)) and np.allclose(m[:, 2], np.round(m[:, 2]))
            and m[0, 2] <= 0 and m[1, 2] <= 0 and -m[0, 2] + size[0] <= arr.shape[1]
            and -m[1, 2] + size[1] <= arr.shape[0]):
        x, y = int(-m[0, 2]), int(-m[1, 2])
        return np.ascontiguousarray(arr[y : y + size[1], x : x + size[0]])
    fill = (255, 255, 255) if arr.ndim == 3 else 255
    return cv2.warpAffine(arr, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=fill)


def turn_matrix(width: int, height: int, rotation_cw: int) -> tuple[np.ndarray, int, int]:
    """Affine matrix of a lossless clockwise quarter turn, and the turned size."""
    k = (rotation_cw // 90) % 4
    m = {
        0: [[1, 0, 0], [0, 1, 0]],
        1: [[0, -1, height], [1, 0, 0]],
        2: [[-1, 0, width], [0, -1, height]],
        3: [[0, 1, 0], [-1, 0, width]],
    }[k]
    size = (width, height) if k % 2 == 0 else (height, width)
    return np.array(m, dtype=np.float64), size[0], size[1]


def mapped_boxes(boxes, matrix: np.ndarray, scale: float, shape: tuple[int, ...]):
    """Boxes (x, y, w, h) in the analysis copy's pixels as slices of the output: `matrix` maps source pixels to the
    output's, `scale` analysis pixels to source pixels."""
    h, w = shape[:2]
    for x, y, bw, bh in boxes:
        corners = np.array([[x, y], [x + bw, y], [x, y + bh], [x + bw, y + bh]], dtype=np.float64) * scale
        mapped = corners @ matrix[:, :2].T + matrix[:, 2]
        x0, y0 = np.clip(np.floor(mapped.min(axis=0)).astype(int), 0, [w, h])
        x1, y1 = np.clip(np.ceil(mapped.max(axis=0)).astype(int), 0, [w, h])
        if x1 > x0 and y1 > y0:
            yield slice(y0, y1), slice(x0, x1)
