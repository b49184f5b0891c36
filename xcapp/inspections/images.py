"""Photo and signature processing for inspection forms.

Pure module: Pillow + stdlib only, no Flask, no database.

Photos (``process_photo``)
--------------------------
Officers upload phone-camera photos.  Every accepted photo is decoded and
re-encoded, never stored as uploaded:

* Accepted inputs: JPEG (incl. MPO / multi-picture and "motion photo" JPEGs),
  PNG and WebP.  Animated PNG/WebP keep their first frame.  HEIC/HEIF and AVIF
  are detected by their ``ftyp`` box and rejected with a message telling the
  officer to switch the camera to JPEG (Pillow cannot read HEIC without a
  plugin, and we deliberately keep the set of decoders small).  Anything else
  (GIF, BMP, TIFF, PDF, text ...) is "not a valid image".
* Size guards: ``max_bytes`` (10 MB) on the upload, ``max_pixels``
  (60 MP) checked from the header *before* any pixel is decoded, and
  ``max_decoded_bytes`` (64 MB): the memory the decoded pixels take, from the
  header's size and mode (width x height x bands x bytes per band, at least the
  4 bytes per pixel of the RGB(A) working copy), after JPEG's DCT downscaling
  (``draft``) — a 227 KB PNG of 7745x7745 RGBA (240 MB decoded) is refused
  before it is decoded (issue 11.5). Large images are shrunk right after
  decoding, before any other copy is made, so a worker's peak stays near
  twice the budget. ``decode_slot`` bounds how many photos one process decodes
  at once (``ImageBusy`` when every slot stays busy).  Pillow's own
  ``DecompressionBombError`` is caught as well.  We never touch the global
  ``Image.MAX_IMAGE_PIXELS`` or warning filters (process-wide, not
  thread-safe).  Pillow itself emits ``DecompressionBombWarning`` while
  opening files above ~89 MP (we then reject them); if warnings are turned
  into errors that is caught and reported as "too many pixels" too.
* Truncated / corrupt data: the full decode happens here, so broken streams
  are rejected (this relies on ``ImageFile.LOAD_TRUNCATED_IMAGES`` staying at
  its default ``False``).
* Processing: EXIF orientation is applied (``_orientation_transpose``),
  alpha is flattened onto white, the image is converted to 8-bit RGB, scaled
  down (never up) so the longest side is <= ``max_side`` and saved as a
  progressive, optimised JPEG (quality 82).  Large JPEGs are DCT-downscaled
  while decoding (``draft``) to keep memory low on the server.
* Metadata: nothing is carried over (no GPS, make/model, EXIF thumbnail, XMP,
  ICC profile, comments) except the capture time: when known, a fresh EXIF
  block holds only ``DateTime`` (0x0132, IFD0) and ``DateTimeOriginal``
  (0x9003, Exif IFD; the IFD0 pointer 0x8769 is therefore present too).
  The capture time is the camera's local wall-clock time; ``taken_at`` is a
  *naive* datetime (EXIF offsets are ignored).  A corrupt EXIF block never
  rejects a photo: it just yields ``taken_at=None`` and no rotation.
* The thumbnail is a JPEG (longest side <= 320) without any EXIF.
* ``sha256`` is the hex digest of the output JPEG (useful for dedup /
  integrity in the evidence record).

Signatures (``decode_data_url`` / ``validate_signature_png``)
--------------------------------------------------------------
``static/js/signature.js`` writes ``canvas.toDataURL("image/png")`` into a
hidden input.  ``decode_data_url`` turns that string into bytes (PNG data URLs
only); ``validate_signature_png`` checks the bytes are a real PNG, at most
2000x1000 px and not blank (no "ink" once flattened on white, or a uniform
colour), and returns a clean re-encoded RGBA PNG (transparent background, no
text/EXIF/ICC chunks).  An empty hidden input means "not signed" and is
rejected as blank.

All rejections raise ``ImageRejected`` whose ``.message`` is user-facing
Chinese and whose ``.code`` is a stable ASCII code for logs/tests.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from PIL import Image

__all__ = [
    "ImageBusy",
    "ImageRejected",
    "ProcessedPhoto",
    "decode_slot",
    "MAX_DECODED_BYTES",
    "process_photo",
    "decode_data_url",
    "validate_signature_png",
    "MAX_PHOTO_BYTES",
    "MAX_PHOTO_SIDE",
    "MAX_PHOTO_PIXELS",
    "THUMB_SIDE",
    "MAX_SIGNATURE_BYTES",
    "MAX_SIGNATURE_SIZE",
]

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDE = 1600
MAX_PHOTO_PIXELS = 60_000_000  # 60 MP: above any phone's default mode
MAX_DECODED_BYTES = 64 * 1024 * 1024  # a 16 MP RGBA or PNG; JPEGs count after DCT downscaling
THUMB_SIDE = 320
JPEG_QUALITY = 82
THUMB_QUALITY = 75

MAX_SIGNATURE_BYTES = 512 * 1024
MAX_SIGNATURE_SIZE = (2000, 1000)
# A signature needs at least this many pixels clearly darker than white.
MIN_SIGNATURE_INK = 20
INK_LEVEL = 235  # luminance (0-255) below which a flattened pixel counts as ink

PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")
_ACCEPTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}

TAG_DATETIME = 0x0132
TAG_EXIF_IFD = 0x8769
TAG_DATETIME_ORIGINAL = 0x9003

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}

MSG_EMPTY = "未收到照片文件，请重新拍摄或选择照片"
MSG_NOT_IMAGE = "文件不是有效的图片，请上传 JPEG、PNG 或 WebP 格式的照片"
MSG_CORRUPT = "图片文件已损坏或不完整（可能上传中断），请重新拍摄或上传"
MSG_HEIC = (
    "暂不支持 HEIC/HEIF 格式的照片。请在手机相机设置中将照片格式改为 JPEG"
    "（或“兼容性最佳”），重新拍摄后上传"
)
MSG_AVIF = "暂不支持 AVIF 格式的照片。请在手机相机设置中将照片格式改为 JPEG，重新拍摄后上传"

MSG_SIG_EMPTY = "签名为空，请在框内签名"
MSG_SIG_BAD_DATA = "签名数据无效，请清除后重新签名"
MSG_SIG_NOT_PNG = "签名必须是 PNG 图片，请清除后重新签名"


class ImageRejected(Exception):
    """An uploaded photo or signature was refused; ``message`` is for the user."""

    def __init__(self, message: str, code: str = "rejected") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


MSG_BUSY = "服务器正在处理其他照片，请稍后重试"


class ImageBusy(ImageRejected):
    """Every decode slot of this process stayed busy: the client retries later (503)."""

    def __init__(self) -> None:
        super().__init__(MSG_BUSY, "busy")


_slots: dict[int, threading.BoundedSemaphore] = {}
_slots_guard = threading.Lock()


@contextmanager
def decode_slot(slots: int = 1, wait_s: float = 5.0):
    """Hold one of ``slots`` photo-decoding slots of this process for the block; wait at
    most ``wait_s`` seconds for one, then raise ``ImageBusy``."""
    with _slots_guard:
        semaphore = _slots.setdefault(int(slots), threading.BoundedSemaphore(max(1, int(slots))))
    if not semaphore.acquire(timeout=max(0.0, float(wait_s))):
        raise ImageBusy()
    try:
        yield
    finally:
        semaphore.release()


_BYTES_PER_BAND = {"1": 1, "I": 4, "F": 4, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}


def decoded_bytes(size: tuple[int, int], mode: str) -> int:
    """Memory of the decoded pixels: width x height x bands x bytes per band, and at
    least the 4 bytes per pixel of the RGB(A) copy every photo is converted to."""
    try:
        bands = Image.getmodebands(mode)
    except (KeyError, ValueError):
        bands = 4
    per_pixel = max(4, bands * _BYTES_PER_BAND.get(mode, 1))
    return size[0] * size[1] * per_pixel


def _decoded_message(n: int, limit: int) -> str:
    return (f"图片解码后约需 {n / (1024 * 1024):.0f} MB 内存（上限 {limit // (1024 * 1024)} MB），"
            "请降低相机分辨率或改用 JPEG 格式后上传")


@dataclass(frozen=True)
class ProcessedPhoto:
    jpeg: bytes
    thumb: bytes
    width: int
    height: int
    taken_at: datetime | None
    sha256: str
    thumb_sha256: str = ""


def _mb(n: int) -> str:
    v = n / (1024 * 1024)
    return f"{v:g}" if v >= 1 else f"{v:.1f}"


def _sniff_ftyp(data: bytes) -> str | None:
    """Return "heif" / "avif" for ISO-BMFF image files, else None."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return None
    size = int.from_bytes(data[0:4], "big")
    end = min(len(data), size if 16 <= size <= 4096 else 32)
    brands = {data[8:12]} | {data[i:i + 4] for i in range(16, end - 3, 4)}
    if data[8:12] in _AVIF_BRANDS:
        return "avif"
    if brands & _HEIF_BRANDS:
        return "heif"
    return "avif" if brands & _AVIF_BRANDS else None


_EXIF_DT = re.compile(r"^\s*(\d{4})[:\-/](\d{2})[:\-/](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")


def _parse_exif_datetime(value: object) -> datetime | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    if not isinstance(value, str):
        return None
    m = _EXIF_DT.match(value.strip("\x00 "))
    if not m:
        return None
    try:
        return datetime(*(int(g) for g in m.groups()))
    except ValueError:  # "0000:00:00 00:00:00" and other placeholders
        return None


def _read_taken_at(img: Image.Image) -> datetime | None:
    try:
        exif = img.getexif()
        taken = _parse_exif_datetime(exif.get_ifd(TAG_EXIF_IFD).get(TAG_DATETIME_ORIGINAL))
        return taken or _parse_exif_datetime(exif.get(TAG_DATETIME))
    except Exception:  # corrupt EXIF must not reject the photo
        return None


def _minimal_exif(taken_at: datetime | None) -> bytes:
    if taken_at is None:
        return b""
    stamp = taken_at.strftime("%Y:%m:%d %H:%M:%S")
    exif = Image.Exif()
    exif[TAG_DATETIME] = stamp
    exif.get_ifd(TAG_EXIF_IFD)[TAG_DATETIME_ORIGINAL] = stamp
    return exif.tobytes()


def _to_rgb(img: Image.Image) -> Image.Image:
    """8-bit RGB, with any transparency flattened onto white."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit greyscale: scale to 8 bit instead of clipping to white.
        img = img.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")


def _encode_jpeg(img: Image.Image, quality: int, exif: bytes = b"", progressive: bool = True) -> bytes:
    img.info = {}  # never let Pillow pick up icc_profile / comment / xmp from info
    buf = io.BytesIO()
    params = {"quality": quality, "optimize": True, "progressive": progressive}
    if exif:
        params["exif"] = exif
    img.save(buf, "JPEG", **params)
    return buf.getvalue()


def process_photo(
    data: bytes,
    max_bytes: int = MAX_PHOTO_BYTES,
    max_side: int = MAX_PHOTO_SIDE,
    *,
    max_pixels: int = MAX_PHOTO_PIXELS,
    thumb_side: int = THUMB_SIDE,
    max_decoded_bytes: int = MAX_DECODED_BYTES,
    captured_at: datetime | None = None,
) -> ProcessedPhoto:
    """Validate and normalise an uploaded photo; raise ``ImageRejected``. ``captured_at``
    (the capture time the phone read before re-encoding, which drops EXIF) is used
    when the file itself carries none."""
    if not data:
        raise ImageRejected(MSG_EMPTY, "empty")
    if len(data) > max_bytes:
        raise ImageRejected(f"照片超过 {_mb(max_bytes)} MB，请重新拍摄或压缩后上传", "too_large")
    kind = _sniff_ftyp(data[:4096])
    if kind == "heif":
        raise ImageRejected(MSG_HEIC, "heic")
    if kind == "avif":
        raise ImageRejected(MSG_AVIF, "avif")

    try:
        img = Image.open(io.BytesIO(data), formats=PHOTO_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # The warning only raises when warnings are turned into errors.
        raise ImageRejected(_pixels_message(max_pixels), "too_many_pixels") from None
    except Exception:  # UnidentifiedImageError, SyntaxError, struct.error ...
        raise ImageRejected(MSG_NOT_IMAGE, "not_image") from None

    with img:
        if img.format not in _ACCEPTED_FORMATS:
            raise ImageRejected(MSG_NOT_IMAGE, "not_image")
        w, h = img.size
        if w < 1 or h < 1:
            raise ImageRejected(MSG_CORRUPT, "corrupt")
        if w * h > max_pixels:
            raise ImageRejected(_pixels_message(max_pixels), "too_many_pixels")
        try:
            img.seek(0)  # animated images: first frame
            if img.format in ("JPEG", "MPO") and max(w, h) > max_side:
                scale = max_side / max(w, h)
                img.draft("RGB", (max(1, round(w * scale)), max(1, round(h * scale))))
        except Exception:
            raise ImageRejected(MSG_CORRUPT, "corrupt") from None
        # The budget by decoded bytes, from the header (after draft), before decoding.
        need = decoded_bytes(img.size, img.mode)
        if need > max_decoded_bytes:
            raise ImageRejected(_decoded_message(need, max_decoded_bytes), "too_many_bytes")
        try:
            img.load()
        except Image.DecompressionBombError:
            raise ImageRejected(_pixels_message(max_pixels), "too_many_pixels") from None
        except Exception:  # truncated / broken stream
            raise ImageRejected(MSG_CORRUPT, "corrupt") from None

        taken_at = _read_taken_at(img) or captured_at
        transpose = _orientation_transpose(img)
        small = _shrink(img, max_side)   # the big decoded image is dropped with ``img``

    if transpose is not None:
        small = small.transpose(transpose)
    rgb = _to_rgb(small)
    del small
    rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # never upscales
    jpeg = _encode_jpeg(rgb.copy(), JPEG_QUALITY, _minimal_exif(taken_at))

    small = rgb.copy()
    small.thumbnail((thumb_side, thumb_side), Image.Resampling.LANCZOS)
    thumb = _encode_jpeg(small, THUMB_QUALITY, progressive=False)

    return ProcessedPhoto(
        jpeg=jpeg,
        thumb=thumb,
        width=rgb.width,
        height=rgb.height,
        taken_at=taken_at,
        sha256=hashlib.sha256(jpeg).hexdigest(),
        thumb_sha256=hashlib.sha256(thumb).hexdigest(),
    )


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _orientation_transpose(img: Image.Image):
    """The transpose that makes the stored pixels upright (EXIF orientation), or None;
    a corrupt EXIF block keeps the pixels as stored."""
    try:
        return _TRANSPOSE.get(img.getexif().get(0x0112))
    except Exception:
        return None


def _shrink(img: Image.Image, max_side: int) -> Image.Image:
    """A copy no larger than needed for ``max_side``, made straight from the decoded
    image (in a mode that keeps transparency) so that no full-size copy follows."""
    if img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = _to_rgb(img) if img.mode.startswith("I") else img.convert(
            "RGBA" if "transparency" in img.info or img.mode in ("PA", "RGBa", "La") else "RGB")
    if max(img.size) <= max_side:
        return img.copy()
    scale = max_side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def _pixels_message(max_pixels: int) -> str:
    return f"图片像素过大（超过 {max_pixels / 1_000_000:g} 百万像素），请降低相机分辨率或压缩后上传"


# --- signatures -------------------------------------------------------------

_DATA_URL_PREFIX = re.compile(r"^data:([^;,]*)((?:;[^;,]*)*),", re.IGNORECASE)


def decode_data_url(s: str, max_bytes: int = MAX_SIGNATURE_BYTES) -> bytes:
    """Decode a ``data:image/png;base64,...`` string (as written by signature.js)."""
    if s is None or not str(s).strip():
        raise ImageRejected(MSG_SIG_EMPTY, "signature_empty")
    s = str(s).strip()
    m = _DATA_URL_PREFIX.match(s)
    if not m:
        raise ImageRejected(MSG_SIG_BAD_DATA, "signature_bad_data")
    mime = m.group(1).strip().lower()
    params = [p.strip().lower() for p in m.group(2).split(";") if p.strip()]
    if mime != "image/png":
        raise ImageRejected(MSG_SIG_NOT_PNG, "signature_not_png")
    if "base64" not in params:
        raise ImageRejected(MSG_SIG_BAD_DATA, "signature_bad_data")
    payload = re.sub(r"\s+", "", s[m.end():])
    if len(payload) > (max_bytes + 2) // 3 * 4 + 4:
        raise ImageRejected(_sig_too_large(max_bytes), "signature_too_large")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ImageRejected(MSG_SIG_BAD_DATA, "signature_bad_data") from None
    if not raw:
        raise ImageRejected(MSG_SIG_EMPTY, "signature_empty")
    return raw


def _sig_too_large(max_bytes: int) -> str:
    return f"签名图片过大（超过 {max_bytes // 1024} KB），请清除后重新签名"


def validate_signature_png(
    data: bytes,
    max_bytes: int = MAX_SIGNATURE_BYTES,
    *,
    max_size: tuple[int, int] = MAX_SIGNATURE_SIZE,
) -> bytes:
    """Check a canvas PNG signature; return a clean re-encoded RGBA PNG."""
    if not data:
        raise ImageRejected(MSG_SIG_EMPTY, "signature_empty")
    if len(data) > max_bytes:
        raise ImageRejected(_sig_too_large(max_bytes), "signature_too_large")
    if not data.startswith(PNG_MAGIC):
        raise ImageRejected(MSG_SIG_NOT_PNG, "signature_not_png")
    try:
        img = Image.open(io.BytesIO(data), formats=("PNG",))
    except Exception:
        raise ImageRejected(MSG_SIG_BAD_DATA, "signature_bad_data") from None
    with img:
        w, h = img.size
        if w < 1 or h < 1 or w > max_size[0] or h > max_size[1]:
            raise ImageRejected(
                f"签名图片尺寸异常（最大 {max_size[0]}×{max_size[1]} 像素），请清除后重新签名",
                "signature_bad_size",
            )
        try:
            img.seek(0)
            img.load()
            rgba = img.convert("RGBA")
        except Exception:
            raise ImageRejected(MSG_SIG_BAD_DATA, "signature_bad_data") from None

    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    grey = flat.convert("L")
    lo, hi = grey.getextrema()
    ink = sum(grey.histogram()[:INK_LEVEL])
    if lo == hi or ink < MIN_SIGNATURE_INK:
        raise ImageRejected(MSG_SIG_EMPTY, "signature_empty")

    clean = Image.new("RGBA", rgba.size)  # fresh image: no chunks carried over
    clean.paste(rgba)
    buf = io.BytesIO()
    clean.save(buf, "PNG", optimize=True)
    return buf.getvalue()
