"""Unit tests for xcapp.inspections.images (pure; no app fixtures)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
from datetime import datetime

import pytest
from PIL import Image, ImageDraw

from xcapp.inspections.images import (
    ImageRejected,
    ProcessedPhoto,
    decode_data_url,
    process_photo,
    validate_signature_png,
)

TAG_MAKE = 0x010F
TAG_MODEL = 0x0110
TAG_ORIENTATION = 0x0112
TAG_DATETIME = 0x0132
TAG_EXIF_IFD = 0x8769
TAG_GPS_IFD = 0x8825
TAG_DATETIME_ORIGINAL = 0x9003


def _encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _phone_jpeg(size=(4000, 3000), orientation=6, original="2024:05:06 07:08:09", datetime_="2024:05:07 10:00:00"):
    """A camera-like JPEG: landscape pixels, EXIF says 'rotate 90° CW', GPS + Make."""
    img = Image.new("RGB", size, (200, 200, 200))
    # A red block in the top-left corner of the *stored* pixels, to check rotation.
    ImageDraw.Draw(img).rectangle((0, 0, size[0] // 4, size[1] // 4), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[TAG_MAKE] = "ACME"
    exif[TAG_MODEL] = "Phone 9"
    exif[TAG_ORIENTATION] = orientation
    if datetime_:
        exif[TAG_DATETIME] = datetime_
    if original:
        exif.get_ifd(TAG_EXIF_IFD)[TAG_DATETIME_ORIGINAL] = original
    gps = exif.get_ifd(TAG_GPS_IFD)
    gps[1] = "N"
    gps[2] = (31.0, 14.0, 0.0)
    gps[3] = "E"
    gps[4] = (121.0, 28.0, 0.0)
    return _encode(img, "JPEG", exif=exif.tobytes(), quality=90,
                   icc_profile=b"\0" * 64, comment=b"secret comment")


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


# --- photos -----------------------------------------------------------------


def test_phone_jpeg_is_rotated_downscaled_and_stripped():
    out = process_photo(_phone_jpeg())
    assert isinstance(out, ProcessedPhoto)
    # Stored 4000x3000 with orientation 6 -> upright portrait, longest side 1600.
    assert (out.width, out.height) == (1200, 1600)
    img = _open(out.jpeg)
    assert img.format == "JPEG"
    assert img.mode == "RGB"
    assert img.size == (1200, 1600)
    # Rotated 90° clockwise: the stored top-left red block is now top-right.
    r, g, b = img.getpixel((1200 - 50, 50))
    assert r > 200 and g < 60 and b < 60
    r, g, b = img.getpixel((50, 50))
    assert abs(r - 200) < 20 and abs(g - 200) < 20
    exif = img.getexif()
    assert set(exif) <= {TAG_DATETIME, TAG_EXIF_IFD}
    assert TAG_GPS_IFD not in exif and TAG_MAKE not in exif and TAG_MODEL not in exif
    assert TAG_ORIENTATION not in exif
    assert dict(exif.get_ifd(TAG_EXIF_IFD)) == {TAG_DATETIME_ORIGINAL: "2024:05:06 07:08:09"}
    assert exif[TAG_DATETIME] == "2024:05:06 07:08:09"  # capture time, not edit time
    assert not exif.get_ifd(TAG_GPS_IFD)
    assert "icc_profile" not in img.info and "comment" not in img.info
    assert b"ACME" not in out.jpeg and b"secret" not in out.jpeg
    assert img.info.get("progressive") or img.info.get("progression")
    assert out.taken_at == datetime(2024, 5, 6, 7, 8, 9)
    assert out.sha256 == hashlib.sha256(out.jpeg).hexdigest()


def test_thumbnail_is_small_jpeg_without_exif():
    out = process_photo(_phone_jpeg())
    thumb = _open(out.thumb)
    assert thumb.format == "JPEG"
    assert thumb.size == (240, 320)
    assert not thumb.getexif()
    assert "exif" not in thumb.info


def test_taken_at_falls_back_to_datetime():
    out = process_photo(_phone_jpeg(size=(800, 600), orientation=1, original=None))
    assert out.taken_at == datetime(2024, 5, 7, 10, 0, 0)
    assert _open(out.jpeg).getexif().get_ifd(TAG_EXIF_IFD)[TAG_DATETIME_ORIGINAL] == "2024:05:07 10:00:00"


def test_placeholder_date_and_no_exif_give_no_taken_at():
    out = process_photo(_phone_jpeg(size=(800, 600), original="0000:00:00 00:00:00", datetime_=None))
    assert out.taken_at is None
    assert not _open(out.jpeg).getexif()
    out = process_photo(_encode(Image.new("RGB", (300, 200), "blue"), "JPEG"))
    assert out.taken_at is None
    assert not _open(out.jpeg).getexif()


def test_png_with_alpha_is_flattened_on_white():
    img = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((100, 100, 200, 200), fill=(0, 0, 255, 255))
    out = process_photo(_encode(img, "PNG"))
    assert (out.width, out.height) == (400, 300)
    res = _open(out.jpeg)
    assert res.mode == "RGB"
    assert all(c > 245 for c in res.getpixel((10, 10)))  # transparent -> white
    r, g, b = res.getpixel((150, 150))
    assert b > 200 and r < 40 and g < 40


def test_palette_png_with_transparency_and_webp_accepted():
    pal = Image.new("P", (64, 64), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.info["transparency"] = 0
    out = process_photo(_encode(pal, "PNG", transparency=0))
    assert all(c > 245 for c in _open(out.jpeg).getpixel((5, 5)))
    webp = _encode(Image.new("RGB", (500, 400), "green"), "WEBP")
    assert process_photo(webp).width == 500


def test_large_image_downscaled_to_1600():
    data = _encode(Image.new("RGB", (5000, 3000), (10, 120, 30)), "PNG")
    out = process_photo(data)
    assert (out.width, out.height) == (1600, 960)
    assert _open(out.jpeg).size == (1600, 960)
    assert _open(out.thumb).size == (320, 192)


def test_large_jpeg_uses_draft_and_still_exact_size():
    out = process_photo(_phone_jpeg(size=(5000, 3000), orientation=1))
    assert (out.width, out.height) == (1600, 960)


def test_tiny_image_not_upscaled():
    out = process_photo(_encode(Image.new("RGB", (40, 30), "red"), "JPEG"))
    assert (out.width, out.height) == (40, 30)
    assert _open(out.thumb).size == (40, 30)


def test_animated_webp_takes_first_frame():
    frames = [Image.new("RGB", (120, 80), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    r, g, b = _open(process_photo(data).jpeg).getpixel((60, 40))
    assert r > 200 and b < 60


def test_16bit_greyscale_png_not_clipped_to_white():
    img = Image.new("I;16", (50, 50), 32768)
    res = _open(process_photo(_encode(img, "PNG")).jpeg)
    assert 110 < res.getpixel((25, 25))[0] < 145


def test_cmyk_jpeg_converted_to_rgb():
    data = _encode(Image.new("CMYK", (100, 100), (0, 255, 255, 0)), "JPEG")
    r, g, b = _open(process_photo(data).jpeg).getpixel((50, 50))
    assert r > 200 and g < 60 and b < 60


@pytest.mark.parametrize("data", [b"", None])
def test_empty_rejected(data):
    with pytest.raises(ImageRejected) as exc:
        process_photo(data or b"")
    assert exc.value.code == "empty"


def test_random_bytes_rejected():
    with pytest.raises(ImageRejected) as exc:
        process_photo(os.urandom(4096))
    assert exc.value.code == "not_image"
    assert "不是有效的图片" in exc.value.message
    assert str(exc.value) == exc.value.message


def test_text_file_renamed_jpg_rejected():
    with pytest.raises(ImageRejected) as exc:
        process_photo("这是一个文本文件，不是照片。\n".encode("utf-8") * 20)
    assert exc.value.code == "not_image"


def test_unsupported_formats_rejected():
    for fmt in ("GIF", "BMP", "TIFF"):
        with pytest.raises(ImageRejected) as exc:
            process_photo(_encode(Image.new("RGB", (20, 20), "red"), fmt))
        assert exc.value.code == "not_image", fmt


def test_truncated_jpeg_rejected():
    data = _phone_jpeg(size=(1200, 900), orientation=1)
    with pytest.raises(ImageRejected) as exc:
        process_photo(data[: len(data) // 2])
    assert exc.value.code == "corrupt"
    assert "损坏" in exc.value.message


def test_truncated_png_rejected():
    noisy = Image.frombytes("RGB", (300, 300), os.urandom(300 * 300 * 3))
    data = _encode(noisy, "PNG")
    with pytest.raises(ImageRejected) as exc:
        process_photo(data[: len(data) * 2 // 3])
    assert exc.value.code == "corrupt"


def test_over_10_mb_rejected():
    with pytest.raises(ImageRejected) as exc:
        process_photo(b"\xff\xd8\xff" + b"\0" * (11 * 1024 * 1024))
    assert exc.value.code == "too_large"
    assert exc.value.message == "照片超过 10 MB，请重新拍摄或压缩后上传"


def test_heic_rejected_with_camera_hint():
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 200
    with pytest.raises(ImageRejected) as exc:
        process_photo(heic)
    assert exc.value.code == "heic"
    assert "HEIC" in exc.value.message and "JPEG" in exc.value.message
    samsung = b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf" + b"\0" * 200
    with pytest.raises(ImageRejected) as exc:
        process_photo(samsung)
    assert exc.value.code == "heic"


def test_avif_rejected():
    avif = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\0" * 200
    with pytest.raises(ImageRejected) as exc:
        process_photo(avif)
    assert exc.value.code == "avif"


def test_mp4_video_rejected_as_not_image():
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00isommp42" + b"\0" * 200
    with pytest.raises(ImageRejected) as exc:
        process_photo(mp4)
    assert exc.value.code == "not_image"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_rejected_before_decoding():
    # 10000x10000 = 100 MP of one colour compresses to a few hundred KB.
    bomb = _encode(Image.new("L", (10000, 10000), 0), "PNG", optimize=False)
    assert len(bomb) < 1024 * 1024
    with pytest.raises(ImageRejected) as exc:
        process_photo(bomb)
    assert exc.value.code == "too_many_pixels"
    assert "像素" in exc.value.message


def test_moderate_oversize_rejected_without_pillow_warning():
    # 8000x8000 = 64 MP: above our 60 MP limit, below Pillow's warning threshold.
    data = _encode(Image.new("L", (8000, 8000), 0), "PNG")
    with pytest.raises(ImageRejected) as exc:
        process_photo(data)
    assert exc.value.code == "too_many_pixels"


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_bomb_warning_as_error_is_caught():
    bomb = _encode(Image.new("L", (10000, 10000), 0), "PNG")
    with pytest.raises(ImageRejected) as exc:
        process_photo(bomb)
    assert exc.value.code == "too_many_pixels"


def test_pillow_bomb_error_is_caught(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageRejected) as exc:
        process_photo(_encode(Image.new("RGB", (100, 100), "red"), "PNG"))
    assert exc.value.code == "too_many_pixels"


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_corrupt_exif_does_not_reject():
    data = _encode(Image.new("RGB", (100, 80), "red"), "JPEG", exif=b"Exif\x00\x00II*\x00\xff\xff\xff\x7f")
    out = process_photo(data)
    assert out.taken_at is None and (out.width, out.height) == (100, 80)


def test_processed_photo_is_frozen():
    out = process_photo(_encode(Image.new("RGB", (10, 10)), "JPEG"))
    with pytest.raises(AttributeError):
        out.width = 5  # type: ignore[misc]


# --- signatures ---------------------------------------------------------------


def _signature(size=(600, 200), ink=(20, 20, 60, 255), background=(0, 0, 0, 0)) -> bytes:
    img = Image.new("RGBA", size, background)
    d = ImageDraw.Draw(img)
    d.line([(40, 150), (120, 40), (200, 160), (300, 50), (420, 140)], fill=ink, width=5)
    return _encode(img, "PNG")


def _data_url(data: bytes, mime="image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def test_real_signature_accepted_and_cleaned():
    img = Image.open(io.BytesIO(_signature()))
    buf = io.BytesIO()
    from PIL import PngImagePlugin

    meta = PngImagePlugin.PngInfo()
    meta.add_text("Software", "evil tracker")
    img.save(buf, "PNG", pnginfo=meta, icc_profile=b"\0" * 64)
    out = validate_signature_png(decode_data_url(_data_url(buf.getvalue())))
    assert out.startswith(b"\x89PNG\r\n\x1a\n")
    res = _open(out)
    assert res.format == "PNG" and res.mode == "RGBA" and res.size == (600, 200)
    assert b"evil tracker" not in out and b"iCCP" not in out and b"tEXt" not in out
    assert res.getpixel((0, 0))[3] == 0  # background stays transparent


def test_signature_on_white_opaque_canvas_accepted():
    out = validate_signature_png(_signature(background=(255, 255, 255, 255)))
    assert _open(out).size == (600, 200)


@pytest.mark.parametrize(
    "background",
    [(0, 0, 0, 0), (255, 255, 255, 255), (255, 0, 0, 0), (0, 0, 0, 255)],
    ids=["transparent", "white", "transparent-coloured", "uniform-black"],
)
def test_blank_signature_rejected(background):
    blank = _encode(Image.new("RGBA", (600, 200), background), "PNG")
    with pytest.raises(ImageRejected) as exc:
        validate_signature_png(blank)
    assert exc.value.code == "signature_empty"
    assert exc.value.message == "签名为空，请在框内签名"


def test_single_dot_is_blank():
    img = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    img.putpixel((300, 100), (0, 0, 0, 255))
    with pytest.raises(ImageRejected) as exc:
        validate_signature_png(_encode(img, "PNG"))
    assert exc.value.code == "signature_empty"


def test_signature_size_limits():
    with pytest.raises(ImageRejected) as exc:
        validate_signature_png(_signature(size=(2400, 600)))
    assert exc.value.code == "signature_bad_size"
    assert validate_signature_png(_signature(size=(2000, 1000)))
    with pytest.raises(ImageRejected) as exc:
        validate_signature_png(_signature(), max_bytes=100)
    assert exc.value.code == "signature_too_large"


def test_signature_must_be_png():
    jpeg = _encode(Image.new("RGB", (600, 200), "white"), "JPEG")
    with pytest.raises(ImageRejected) as exc:
        validate_signature_png(jpeg)
    assert exc.value.code == "signature_not_png"
    with pytest.raises(ImageRejected) as exc:
        validate_signature_png(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    assert exc.value.code == "signature_bad_data"
    with pytest.raises(ImageRejected) as exc:
        validate_signature_png(b"")
    assert exc.value.code == "signature_empty"


def test_decode_data_url_roundtrip():
    png = _signature()
    assert decode_data_url(_data_url(png)) == png
    assert decode_data_url("  DATA:Image/PNG;base64," + base64.b64encode(png).decode() + "\n") == png
    wrapped = base64.encodebytes(png).decode()  # base64 with newlines
    assert decode_data_url("data:image/png;base64," + wrapped) == png


@pytest.mark.parametrize(
    "value, code",
    [
        ("", "signature_empty"),
        ("   ", "signature_empty"),
        ("data:image/png;base64,", "signature_empty"),
        ("data:image/png;base64,@@@not-base64@@@", "signature_bad_data"),
        ("data:image/png;base64,iVBORw0KGgo", "signature_bad_data"),  # bad padding
        ("data:image/jpeg;base64,/9j/4AAQ", "signature_not_png"),
        ("data:image/svg+xml;base64,PHN2Zz4=", "signature_not_png"),
        ("data:text/html,<script>alert(1)</script>", "signature_not_png"),
        ("data:image/png,%89PNG", "signature_bad_data"),  # not base64
        ("iVBORw0KGgoAAAANSUhEUg==", "signature_bad_data"),  # no data: prefix
        ("http://example.com/sig.png", "signature_bad_data"),
    ],
)
def test_decode_data_url_errors(value, code):
    with pytest.raises(ImageRejected) as exc:
        decode_data_url(value)
    assert exc.value.code == code
    assert exc.value.message


def test_decode_data_url_size_limit():
    big = "data:image/png;base64," + "A" * (800 * 1024)
    with pytest.raises(ImageRejected) as exc:
        decode_data_url(big)
    assert exc.value.code == "signature_too_large"


# --- issue 11.5: budget by decoded bytes, bounded decoding, measured memory ---------------

import struct
import subprocess
import sys
import zlib

from xcapp.inspections.images import MAX_DECODED_BYTES, ImageBusy, decode_slot, decoded_bytes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def hostile_png(width: int = 7745, height: int = 7745, colour_type: int = 6) -> bytes:
    """A tiny PNG that decodes to a huge image (7745x7745 RGBA: 227 KB on the wire,
    240 MB decoded), built row by row so the test itself never holds the pixels."""
    channels = {6: 4, 2: 3, 0: 1}[colour_type]
    row = b"\x00" + b"\x00" * (width * channels)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return PNG_MAGIC + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

_CHILD = """
import resource, sys
from xcapp.inspections.images import ImageRejected, process_photo
data = open(sys.argv[1], "rb").read()
try:
    process_photo(data)
    outcome = "accepted"
except ImageRejected as exc:
    outcome = exc.code
# Peak RSS of this process image: VmHWM starts afresh at exec; ru_maxrss would also carry
# the RSS of the (large) test process this child was forked from.
try:
    peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(outcome, peak_kb // 1024)
"""


def _peak_rss_mb(tmp_path, data: bytes) -> tuple[str, int]:
    """Process the photo in a fresh child process; its outcome and peak RSS in MB."""
    path = tmp_path / "photo.bin"
    path.write_bytes(data)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, cwd=root,
                         timeout=300, check=True).stdout.split()
    return out[0], int(out[1])


def test_hostile_png_is_refused_before_decoding_by_decoded_bytes():
    data = hostile_png()
    assert len(data) < 300 * 1024            # small on the wire ...
    assert decoded_bytes((7745, 7745), "RGBA") > 200 * 1024 * 1024   # ... huge decoded
    with pytest.raises(ImageRejected) as exc:
        process_photo(data)
    assert exc.value.code == "too_many_bytes"
    assert "MB" in exc.value.message and "JPEG" in exc.value.message


def test_decoded_bytes_counts_bands_and_bytes_per_band():
    assert decoded_bytes((100, 100), "RGBA") == 100 * 100 * 4
    assert decoded_bytes((100, 100), "RGB") == 100 * 100 * 4      # Pillow keeps RGB in 4 bytes
    assert decoded_bytes((100, 100), "L") == 100 * 100 * 4        # converted to RGB for the JPEG
    assert decoded_bytes((100, 100), "I;16") == 100 * 100 * 4
    # JPEG: the budget applies after DCT downscaling, so a 48 MP phone photo is fine.
    big = _encode(Image.new("RGB", (8000, 6000), (10, 20, 30)), "JPEG", quality=50)
    assert decoded_bytes((8000, 6000), "RGB") > MAX_DECODED_BYTES
    assert process_photo(big).width == 1600


def test_peak_memory_of_decoding_stays_bounded(tmp_path):
    """Peak RSS of a fresh process decoding the hostile PNG, the largest PNG the budget
    allows and a 12 MP phone JPEG: each <= 300 MB (before the fix: about 1.1 GB)."""
    outcome, peak = _peak_rss_mb(tmp_path, hostile_png())
    assert outcome == "too_many_bytes" and peak <= 300, (outcome, peak)
    side = 4000   # 4000 x 4000 RGBA = 61 MB decoded, just inside the 64 MB budget
    assert decoded_bytes((side, side), "RGBA") <= MAX_DECODED_BYTES
    outcome, peak = _peak_rss_mb(tmp_path, hostile_png(side, side))
    assert outcome == "accepted" and peak <= 300, (outcome, peak)
    outcome, peak = _peak_rss_mb(tmp_path, _encode(Image.new("RGB", (4000, 3000), (90, 120, 150)), "JPEG"))
    assert outcome == "accepted" and peak <= 300, (outcome, peak)


def test_decode_slots_bound_concurrent_decoding():
    with decode_slot(1, 0):
        with pytest.raises(ImageBusy) as exc:
            with decode_slot(1, 0.05):
                pass
        assert "请稍后重试" in exc.value.message
        with decode_slot(2, 0):      # another bound is another pool
            pass
    with decode_slot(1, 0):          # released again
        pass
