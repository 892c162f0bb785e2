"""Images in and out: loading any common file as RGB, resizing, saving atomically, colour transfer.

Only Pillow and numpy here; the network's own input convention lives in `features/network_input.py`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from neural_style.errors import NeuralStyleError
from neural_style.files import write_atomically

# Pillow's own decompression-bomb limit (about 89 megapixels) is what we refuse above.
MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485


def _open_path(path: str, role: str, notify: Optional[Callable[[str], None]] = None) -> Image.Image:
    if not os.path.exists(path):
        raise NeuralStyleError(f"{role} image {path!r} does not exist: check the path")
    if os.path.isdir(path):
        raise NeuralStyleError(f"{role} image {path!r} is a folder: pass the path of an image file")
    if not os.access(path, os.R_OK):
        raise NeuralStyleError(f"{role} image {path!r} cannot be read (permission denied): fix its permissions")
    if os.path.getsize(path) == 0:
        raise NeuralStyleError(f"{role} image {path!r} is empty (0 bytes): pass a real image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                # Animated GIF/WebP/PNG or multi-page TIFF: the first frame is used (documented).
                image.seek(0)
                if notify:
                    notify(f"note: {role} image {path!r} has {frames} frames; using the first")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise NeuralStyleError(
            f"{role} image {path!r} has more than {MAX_IMAGE_PIXELS:,} pixels (a decompression bomb guard): "
            "downscale it first"
        ) from None
    except UnidentifiedImageError:
        raise NeuralStyleError(
            f"{role} image {path!r} is not an image Pillow can read: pass a JPEG, PNG, WebP, TIFF or BMP file"
        ) from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise NeuralStyleError(
            f"{role} image {path!r} is broken or truncated ({error}): re-export or re-download it"
        ) from None
    return image


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow image as 8-bit RGB: EXIF orientation applied, alpha composited on white,
    16-bit and float images rescaled rather than clipped, CMYK/palette/grey converted."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        high = 65535.0 if values.max(initial=0) > 255 else 255.0
        if image.mode == "F" and values.max(initial=0) <= 1.0:
            high = 1.0
        grey = np.clip(np.round(values * (255.0 / high)), 0, 255).astype(np.uint8)
        image = Image.fromarray(grey)
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


# Extensions whose pictures can carry an alpha channel (8 bits through Pillow; 16 through OpenCV for PNG and TIFF).
ALPHA_EXTENSIONS = (".png", ".webp", ".tif", ".tiff")


def alpha_of(source: Any) -> Optional[Image.Image]:
    """The transparency of an image (a path, Pillow image or array), as a greyscale ('L') picture the shape of its RGB
    picture (EXIF orientation applied); None for an opaque one. 16-bit alphas are rescaled to 8 bits."""
    if isinstance(source, np.ndarray):
        return Image.fromarray(source[..., 3]) if source.ndim == 3 and source.shape[2] == 4 else None
    if isinstance(source, (str, os.PathLike)):
        try:
            with Image.open(os.fspath(source)) as opened:
                opened.seek(0)
                image = ImageOps.exif_transpose(opened)
                image.load()
        except Exception:  # loading it says why
            return None
    elif isinstance(source, Image.Image):
        image = ImageOps.exif_transpose(source)
    else:
        return None
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode not in ("RGBA", "LA", "PA", "RGBa", "La"):
        return None
    alpha = image.convert("RGBA").getchannel("A")
    return None if alpha.getextrema() == (255, 255) else alpha


def with_alpha(pixels: np.ndarray, alpha: Optional[Image.Image]) -> np.ndarray:
    """An H x W x 3 picture (uint8, or float in 0-255) with `alpha` resized to it as a fourth channel (the same type);
    as it is without one."""
    if alpha is None:
        return pixels
    height, width = pixels.shape[:2]
    resized = alpha if alpha.size == (width, height) else alpha.resize((width, height), Image.LANCZOS)
    channel = np.asarray(resized, np.float32 if pixels.dtype != np.uint8 else np.uint8)
    return np.concatenate([pixels, channel[..., np.newaxis].astype(pixels.dtype)], axis=-1)


def image_size(path: str) -> Optional[Tuple[int, int]]:
    """(width, height) of an image file from its header, without decoding it; None where it cannot be read
    (loading it says why)."""
    try:
        with Image.open(path) as image:
            return image.size
    except Exception:  # Pillow raises several kinds for a file it cannot read
        return None


def load_image(source: Any, role: str = "input", notify: Optional[Callable[[str], None]] = None) -> Image.Image:
    """Load a path, a Pillow image or an H x W x 3 uint8 array as an RGB Pillow image."""
    if isinstance(source, Image.Image):
        return to_rgb(source)
    if isinstance(source, np.ndarray):
        array = source
        if array.dtype != np.uint8:
            raise NeuralStyleError(f"{role} image array must be uint8, got {array.dtype}: convert it first")
        if array.ndim == 2:
            return Image.fromarray(array).convert("RGB")
        if array.ndim == 3 and array.shape[2] in (3, 4):
            return to_rgb(Image.fromarray(array))
        raise NeuralStyleError(f"{role} image array has shape {array.shape}: pass H x W or H x W x 3")
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        image = _open_path(path, role, notify)
        try:
            return to_rgb(image)
        except (OSError, ValueError) as error:
            raise NeuralStyleError(f"{role} image {path!r} cannot be converted to RGB ({error}): re-export it") from None
    raise NeuralStyleError(f"{role} image must be a path, a Pillow image or a uint8 array, got {type(source).__name__}")


# A mask whose brightest pixel is below this paints nowhere: refused as "all black".
DARKEST_USABLE_MASK = 1.0 / 255
# How far a mask's aspect ratio may be from its image's (rounding when it was drawn at another size).
MASK_ASPECT_TOLERANCE = 0.02


@dataclass
class Masks:
    """A run's masks at one size, as float32 weights in [0, 1]: `content` H x W x K over the picture (one channel
    per style image, --masks; None without), and `styles`, each style image's H_i x W_i region to take its
    statistics from (--style-masks; None where it has none)."""

    content: Optional[np.ndarray] = None
    styles: List[Optional[np.ndarray]] = field(default_factory=list)


def load_mask(source: Any, role: str, image_size: Tuple[int, int]) -> Image.Image:
    """A mask (a path, Pillow image or uint8 array) as a greyscale Pillow image: white is 1, black 0, alpha
    composited on white. Refused, in one line, when it cannot be read, is all black, or has another shape than
    the `image_size` (width, height) it lies over."""
    mask = load_image(source, role).convert("L")
    named = f"{role} {os.fspath(source)!r}" if isinstance(source, (str, os.PathLike)) else role
    if np.asarray(mask).max(initial=0) < DARKEST_USABLE_MASK * 255:
        raise NeuralStyleError(f"{named} is all black, so its style would paint nowhere: paint white where it applies")
    (width, height), (image_width, image_height) = mask.size, image_size
    if abs((width / height) / (image_width / image_height) - 1) > MASK_ASPECT_TOLERANCE:
        raise NeuralStyleError(f"{named} is {width}x{height} px but the image it covers is {image_width}x{image_height}: "
                               "draw the mask over that image, at its shape")
    return mask


def mask_array(mask: Image.Image, size: Tuple[int, int]) -> np.ndarray:
    """A greyscale mask resized to (width, height), area-averaged where it shrinks, as float32 in [0, 1]."""
    resized = mask if mask.size == tuple(size) else mask.convert("F").resize(tuple(size), Image.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32) / 255.0, 0.0, 1.0)


def resize_to_bilinear(image: Image.Image, size: Tuple[int, int]) -> Image.Image:
    """Resize to exactly (width, height) with Pillow's bilinear filter (torchvision's default on PIL images)."""
    return image if image.size == tuple(size) else image.resize(tuple(size), Image.BILINEAR)


def resize_to(image: Image.Image, size: Tuple[int, int]) -> Image.Image:
    """Resize to exactly (width, height) (Lanczos)."""
    return image if image.size == tuple(size) else image.resize(tuple(size), Image.LANCZOS)


def resize_float(pixels: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """An H x W x C float picture resized to (width, height), channel by channel (bicubic), without rounding."""
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(pixels[..., c], np.float32), "F")
                           .resize(tuple(size), Image.BICUBIC)) for c in range(pixels.shape[-1])]
    return np.clip(np.stack(channels, -1), 0.0, 255.0)


def to_array(image: Image.Image) -> np.ndarray:
    """RGB Pillow image as an H x W x 3 uint8 array."""
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def transfer_luminance_float(stylised: np.ndarray, content: np.ndarray) -> np.ndarray:
    """`transfer_luminance` without 8-bit rounding: a float picture (0-255) with the content's chroma, in the
    same (BT.601 full-range) YCbCr as Pillow's."""
    rgb = np.asarray(stylised, np.float64)
    other = np.asarray(Image.fromarray(content).resize((rgb.shape[1], rgb.shape[0]), Image.LANCZOS), np.float64)
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    cb = other @ np.array([-0.168736, -0.331264, 0.5])
    cr = other @ np.array([0.5, -0.418688, -0.081312])
    out = np.stack([luma + 1.402 * cr, luma - 0.344136 * cb - 0.714136 * cr, luma + 1.772 * cb], axis=-1)
    return np.clip(out, 0, 255)


def transfer_luminance(stylised: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Keep the content's colours: the stylised image's luminance with the content's chroma
    (jcjohnson/neural-style's -original_colors), in Pillow's YCbCr space."""
    y, _, _ = Image.fromarray(stylised).convert("YCbCr").split()
    content_image = Image.fromarray(content).resize((stylised.shape[1], stylised.shape[0]), Image.LANCZOS)
    _, cb, cr = content_image.convert("YCbCr").split()
    return to_array(Image.merge("YCbCr", (y, cb, cr)).convert("RGB"))


def dihedral_copies(pixels: np.ndarray) -> List[np.ndarray]:
    """The picture in its 8 orientations: turned by 0, 90, 180 and 270 degrees, each also mirrored."""
    turns = [np.rot90(pixels, k) for k in range(4)]
    return [np.ascontiguousarray(p) for turn in turns for p in (turn, turn[:, ::-1])]


def match_colors(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The style picture with the content's colours: the linear map of RGB that gives it the content's mean and
    covariance (Gatys et al. 2017, colour transfer before optimising), so the texture is learned in the photo's
    palette. uint8 in and out; values the map sends outside 0-255 are clipped."""
    pixels = style.reshape(-1, 3).astype(np.float64)
    target = content.reshape(-1, 3).astype(np.float64)

    def symmetric_power(covariance: np.ndarray, power: float) -> np.ndarray:
        # A flat-coloured picture has a singular covariance: its eigenvalues are floored, not inverted as zero.
        values, vectors = np.linalg.eigh(covariance)
        return (vectors * np.maximum(values, 1e-6) ** power) @ vectors.T

    mapping = (symmetric_power(np.cov(target, rowvar=False), 0.5)
               @ symmetric_power(np.cov(pixels, rowvar=False), -0.5))
    matched = (pixels - pixels.mean(0)) @ mapping.T + target.mean(0)
    return np.clip(np.rint(matched), 0, 255).astype(np.uint8).reshape(style.shape)


def check_writable_image_path(path: str, what: str = "output") -> None:
    """Fail before any work if `path` cannot be written as an image."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in Image.registered_extensions():
        raise NeuralStyleError(f"{what} path {path!r} has no image extension Pillow can write: use .png or .jpg")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise NeuralStyleError(f"{what} folder {folder!r} does not exist: create it or choose another path")
    if not os.access(folder, os.W_OK):
        raise NeuralStyleError(f"{what} folder {folder!r} is not writable: choose another path")
    if os.path.isdir(path):
        raise NeuralStyleError(f"{what} path {path!r} is a folder: give a file name such as out.png")


def save_image(path: str, pixels: np.ndarray) -> None:
    """Save an H x W x 3 (or x 4, with alpha) uint8 array atomically; the format follows the extension."""
    extension = os.path.splitext(path)[1]
    if pixels.ndim == 3 and pixels.shape[2] == 4 and extension.lower() not in ALPHA_EXTENSIONS:
        pixels = pixels[..., :3]  # a format without transparency (render.kept_alpha says so where it matters)
    image = Image.fromarray(pixels)
    image_format = Image.registered_extensions().get(extension.lower())
    write_atomically(path, lambda temporary: image.save(temporary, format=image_format), suffix=extension)


# Extensions a 16-bit picture can be written in (OpenCV's PNG and TIFF writers; Pillow has no 16-bit RGB).
SIXTEEN_BIT_EXTENSIONS = (".png", ".tif", ".tiff")


def output_bits(path: str, asked: Optional[int]) -> int:
    """Bits per channel of the picture written at `path`: as asked, else 16 for a TIFF and 8 otherwise."""
    if asked is not None:
        return asked
    return 16 if os.path.splitext(path)[1].lower() in (".tif", ".tiff") else 8


def check_sixteen_bit_output(path: str) -> None:
    """Before any work: a 16-bit picture needs a PNG or TIFF path and OpenCV (the video extra)."""
    extension = os.path.splitext(path)[1].lower()
    if extension not in SIXTEEN_BIT_EXTENSIONS:
        raise NeuralStyleError(f"a 16-bit picture cannot be written as {extension or 'a file without extension'}: "
                               "use a .png or .tif output, or --output-bits 8")
    try:
        import cv2  # noqa: F401
    except ImportError:
        raise NeuralStyleError("16-bit output needs OpenCV: pip install -e '.[video]'") from None


def save_image_16(path: str, pixels: np.ndarray) -> None:
    """Save an H x W x 3 (or x 4, with alpha) float picture in 0-255 atomically at 16 bits per channel (PNG or TIFF),
    without rounding it to 8 bits first."""
    import cv2

    extension = os.path.splitext(path)[1]
    sixteen = np.clip(np.rint(np.asarray(pixels, np.float64) * (65535.0 / 255.0)), 0, 65535).astype(np.uint16)
    order = [2, 1, 0, 3][:sixteen.shape[-1]]  # OpenCV's BGR (BGRA)
    bgr = np.ascontiguousarray(sixteen[..., order])

    def write(temporary: str) -> None:
        if not cv2.imwrite(temporary, bgr):
            raise OSError(f"OpenCV could not write {path}")

    write_atomically(path, write, suffix=extension)


def _labelled(pixels: np.ndarray, label: str, height: int) -> Image.Image:
    image = Image.fromarray(pixels)
    image = image.resize((max(1, round(image.width * height / image.height)), height), Image.LANCZOS)
    framed = Image.new("RGB", (image.width, height + 18), "white")
    framed.paste(image, (0, 18))
    ImageDraw.Draw(framed).text((4, 3), label, fill="black")
    return framed


def side_by_side(panels: Sequence[tuple]) -> Image.Image:
    """Panels (label, pixels) next to each other at one height, captioned."""
    height = max(p.shape[0] for _, p in panels)
    framed = [_labelled(p, label, height) for label, p in panels]
    sheet = Image.new("RGB", (sum(f.width for f in framed) + 4 * (len(framed) - 1), framed[0].height), "white")
    x = 0
    for f in framed:
        sheet.paste(f, (x, 0))
        x += f.width + 4
    return sheet
