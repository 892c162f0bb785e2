"""Paint images/swirls.jpg: the project's own style image, thousands of brush strokes that follow
a swirling flow field (in the manner of Van Gogh's night skies). Deterministic; CC0.

    python images/make_swirls.py
"""

import math
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 640, 480
PALETTE = [  # night blues, cobalt, ochre, lemon yellow, cream
    (16, 32, 84), (28, 58, 128), (46, 92, 168), (78, 128, 196), (122, 166, 210),
    (214, 178, 58), (238, 214, 92), (246, 236, 180), (30, 70, 60), (12, 20, 40),
]
VORTICES = [(0.25, 0.3, 1.0), (0.7, 0.25, -0.8), (0.55, 0.7, 1.2), (0.1, 0.8, -0.6), (0.9, 0.65, 0.9)]


def flow_angle(x: float, y: float) -> float:
    """Direction of the strokes at (x, y): a sum of vortices over a gentle horizontal drift."""
    u, v = 1.0, 0.15 * math.sin(6 * x)
    for cx, cy, strength in VORTICES:
        dx, dy = x - cx, y - cy
        r2 = dx * dx + dy * dy + 0.004
        u += -strength * dy / r2 * 0.2
        v += strength * dx / r2 * 0.2
    return math.atan2(v, u)


def colour_at(x: float, y: float, rng: np.random.Generator) -> tuple:
    """Bright yellows near the vortex centres, blues elsewhere, a dark band at the bottom."""
    near = min(math.hypot(x - cx, y - cy) for cx, cy, _ in VORTICES)
    if near < 0.06:
        index = rng.integers(5, 8)
    elif y > 0.85:
        index = rng.choice([8, 9, 0])
    else:
        index = rng.choice([0, 1, 2, 3, 4, 2, 1, 6], p=[0.14, 0.2, 0.2, 0.16, 0.1, 0.08, 0.06, 0.06])
    r, g, b = PALETTE[int(index)]
    jitter = rng.integers(-14, 15)
    return (int(np.clip(r + jitter, 0, 255)), int(np.clip(g + jitter, 0, 255)), int(np.clip(b + jitter, 0, 255)))


def paint(seed: int = 1889) -> Image.Image:
    rng = np.random.default_rng(seed)
    canvas = Image.new("RGB", (WIDTH, HEIGHT), PALETTE[1])
    draw = ImageDraw.Draw(canvas)
    for _ in range(9000):
        x, y = rng.uniform(0, 1), rng.uniform(0, 1)
        colour = colour_at(x, y, rng)
        points = [(x * WIDTH, y * HEIGHT)]
        for _ in range(int(rng.integers(4, 12))):
            angle = flow_angle(x, y)
            x += math.cos(angle) * 0.008
            y += math.sin(angle) * 0.008
            points.append((x * WIDTH, y * HEIGHT))
        draw.line(points, fill=colour, width=int(rng.integers(3, 7)), joint="curve")
    return canvas.filter(ImageFilter.SMOOTH)


if __name__ == "__main__":
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "swirls.jpg")
    paint().save(target, quality=92)
    print(f"wrote {target}")
