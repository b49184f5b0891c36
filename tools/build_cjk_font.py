#!/usr/bin/env python3
"""Build xcapp/fonts/XcappSerifSC-GBK.ttf, the font xcapp embeds in its PDFs.

Why: reportlab (used by xhtml2pdf) only loads TrueType-outline fonts (a
``glyf`` table). Noto Serif SC is shipped with CFF outlines and has no
ballot-box glyphs, so we build a derivative once, at development time, and
commit the result:

  1. take every character that can be encoded in GBK (Python's ``gbk`` codec,
     i.e. CP936), plus ASCII, full-width punctuation and a few typographic
     extras, and subset Noto Serif SC to those characters;
  2. convert the CFF outlines to quadratic TrueType outlines (the logic of
     fontTools' ``Snippets/otf2ttf.py``: Cu2QuPen + TTGlyphPen);
  3. copy ☐ ☑ ☒ ✓ ✔ from Noto Sans Symbols2 (and ≒ U+2252, the one GBK
     character Noto Serif SC lacks, from Noto Sans Math), scaled to the
     same units-per-em and centred in a full-width (1 em) advance;
  4. rename the family to "XcappSerifSC" (the OFL forbids modified versions
     from using Reserved Font Names, and a subset must not pose as the
     original), strip tables reportlab does not use, and save with fixed
     timestamps so that the same inputs give a byte-identical file;
  5. write OFL.txt (copyright lines read from the source fonts + the SIL
     Open Font License 1.1 text shipped in the pip package's metadata).

Requirements (this script installs nothing itself):
  pip install fonttools pylopdf-fonts-zh-cn      # fontTools + NotoSerifSC-Regular.otf
  apt-get install fonts-noto-core                # Debian: NotoSansSymbols2 / NotoSansMath
Optional, for the self-check at the end: pip install reportlab

Usage (from the repository root):
  python tools/build_cjk_font.py
  python tools/build_cjk_font.py --out /tmp/x.ttf --licence-out /tmp/OFL.txt
  python tools/build_cjk_font.py --serif /path/NotoSerifSC-Regular.otf \\
      --symbols /path/NotoSansSymbols2-Regular.ttf --math /path/NotoSansMath-Regular.ttf

It takes about a minute; most of it is the outline conversion.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from importlib import metadata
from pathlib import Path

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.transformPen import TransformPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "xcapp" / "fonts" / "XcappSerifSC-GBK.ttf"
DEFAULT_LICENCE_OUT = REPO_ROOT / "xcapp" / "fonts" / "OFL.txt"
DEBIAN_NOTO_DIR = Path("/usr/share/fonts/truetype/noto")
DEFAULT_SYMBOLS = DEBIAN_NOTO_DIR / "NotoSansSymbols2-Regular.ttf"
DEFAULT_MATH = DEBIAN_NOTO_DIR / "NotoSansMath-Regular.ttf"

FAMILY = "XcappSerifSC"
STYLE = "Regular"
PS_NAME = f"{FAMILY}-{STYLE}"

# Glyphs copied from Noto Sans Symbols2: ☐ ☑ ☒ ✓ ✔.
# ✓ also exists in Noto Serif SC, but we take all five from the same design.
SYMBOL_CODEPOINTS = (0x2610, 0x2611, 0x2612, 0x2713, 0x2714)
# GBK characters missing from Noto Serif SC 2.003, taken from Noto Sans Math.
MATH_CODEPOINTS = (0x2252,)  # ≒

# Cu2Qu approximation error in font units (1000 per em): 1.0 is what
# fontTools' otf2ttf snippet uses and is invisible at any print size.
DEFAULT_MAX_ERR = 1.0

# Tables reportlab never reads. Dropping them keeps the file small.
DROP_TABLES = ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "VORG", "vhea", "vmtx", "DSIG"]


def wanted_codepoints() -> set[int]:
    """Every code point xcapp must be able to print."""
    cps = set(range(0x20, 0x7F))  # printable ASCII
    # Everything encodable in GBK (CP936), BMP only (GBK has nothing above it).
    for cp in range(0x80, 0x10000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        try:
            chr(cp).encode("gbk")
        except UnicodeEncodeError:
            continue
        cps.add(cp)
    # Full-width forms and CJK punctuation, whether or not GBK has them.
    cps.update(range(0xFF01, 0xFF5F))  # ！ .. ～
    cps.update(range(0xFFE0, 0xFFE7))  # ￠ ￡ ￢ ￣ ￤ ￥ ￦
    cps.update(range(0x3000, 0x3020))  # 　、。〃 〈〉《》「」『』【】〔〕〖〗 ...
    # Typographic extras that appear in pasted text or HTML entities.
    cps.update([
        0x00A0,  # no-break space (&nbsp;)
        0x00B7, 0x2022, 0x30FB,  # · • ・
        0x2013, 0x2014, 0x2015, 0x2026,  # – — ― …
        0x2018, 0x2019, 0x201C, 0x201D,  # ‘ ’ “ ”
        0x00A5, 0x00B0, 0x2103, 0x2116,  # ¥ ° ℃ №
    ])
    cps.update(symbol_blocks())
    return cps


def symbol_blocks() -> set[int]:
    """Symbols the inspection forms and product rules use (issue 13.5), whole blocks so
    that neighbours print too; only what Noto Serif SC has is kept (it has all of these):
    ² ³ µ ± × ÷ (Latin-1), Φ φ μ Ω (Greek), ⁰-⁹ ₀-₉, ℃ ℉ Ω, Ⅰ-Ⅻ ⅰ-ⅻ, arrows, ≤ ≥ ≈ ≠,
    ①-⑳ ⑴-⒇ ⒈-⒛, ㈠-㈩, ㎡ ㎥ ㎏ ㎜ and the full-width / half-width forms."""
    cps: set[int] = set()
    for first, last in (
        (0x00A0, 0x00FF),  # Latin-1 supplement
        (0x0370, 0x03FF),  # Greek
        (0x2070, 0x209F),  # superscripts and subscripts
        (0x2100, 0x214F),  # letterlike symbols
        (0x2150, 0x218F),  # number forms (Roman numerals)
        (0x2190, 0x21FF),  # arrows
        (0x2200, 0x22FF),  # mathematical operators
        (0x2460, 0x24FF),  # enclosed alphanumerics
        (0x3200, 0x32FF),  # enclosed CJK letters and months
        (0x3300, 0x33FF),  # CJK compatibility (square units)
        (0xFF00, 0xFFEF),  # half-width and full-width forms
    ):
        cps.update(range(first, last + 1))
    return cps


# Every symbol of issue 13.5 must be in the built font; the build stops otherwise.
REQUIRED_SYMBOLS = ("² ³ ℃ ㎡ ㎥ ‰ ± × ÷ ≤ ≥ Φ φ μ Ω µ "
                    + " ".join(chr(c) for c in range(0x2460, 0x2474))     # ① … ⑳
                    + " " + " ".join(chr(c) for c in range(0x2160, 0x216C))  # Ⅰ … Ⅻ
                    + " ％ ＋ － ＝ ～ （ ） ０ ９ Ａ ｚ ￥").split()


def otf_to_ttf(font: TTFont, max_err: float) -> None:
    """Convert a CFF-flavoured font to TrueType outlines, in place.

    Same steps as fontTools' Snippets/otf2ttf.py.
    """
    assert font.sfntVersion == "OTTO" and "CFF " in font, "expected CFF outlines"
    glyph_order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    quad_glyphs = {}
    for name in glyph_order:
        tt_pen = TTGlyphPen(glyph_set)
        # reverse_direction: CFF contours run counter-clockwise, TrueType clockwise.
        glyph_set[name].draw(Cu2QuPen(tt_pen, max_err, reverse_direction=True))
        quad_glyphs[name] = tt_pen.glyph()

    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = glyph_order
    glyf.glyphs = quad_glyphs
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf.compile(font)

    # Left side bearings must equal xMin for TrueType.
    hmtx = font["hmtx"]
    for name, glyph in glyf.glyphs.items():
        if hasattr(glyph, "xMin"):
            hmtx[name] = (hmtx[name][0], glyph.xMin)

    font["maxp"] = maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    maxp.maxTwilightPoints = 0
    maxp.maxStorage = 0
    maxp.maxFunctionDefs = 0
    maxp.maxInstructionDefs = 0
    maxp.maxStackElements = 0
    maxp.maxSizeOfInstructions = 0
    maxp.maxComponentElements = 0  # cu2qu output has no composite glyphs
    maxp.compile(font)

    # post format 3: no glyph names (saves ~250 KB; reportlab does not need them).
    post = font["post"]
    post.formatType = 3.0
    post.extraNames = []
    post.mapping = {}
    font.sfntVersion = "\x00\x01\x00\x00"


def copy_glyphs(dst: TTFont, src_path: Path, codepoints: tuple[int, ...]) -> list[int]:
    """Copy the glyphs for `codepoints` from the font at src_path into dst.

    Outlines are redrawn through a scaling pen (so any units-per-em works and
    composites/hinting are flattened away) and centred in a 1 em advance so
    that they sit on the same full-width grid as the CJK characters.
    Returns the code points that were copied.
    """
    src = TTFont(src_path)
    src_cmap = src.getBestCmap()
    src_glyphs = src.getGlyphSet()
    dst_upem = dst["head"].unitsPerEm
    scale = dst_upem / src["head"].unitsPerEm
    advance = dst_upem  # full width
    glyph_order = list(dst.getGlyphOrder())
    copied = []
    for cp in codepoints:
        src_name = src_cmap.get(cp)
        if src_name is None:
            print(f"  warning: U+{cp:04X} not in {src_path.name}", file=sys.stderr)
            continue
        # Measure the scaled outline to centre it horizontally.
        probe = TTGlyphPen(src_glyphs)
        src_glyphs[src_name].draw(TransformPen(probe, (scale, 0, 0, scale, 0, 0)))
        g = probe.glyph()
        g.recalcBounds(None)
        width = (g.xMax - g.xMin) if g.numberOfContours else 0
        dx = round((advance - width) / 2 - (g.xMin if g.numberOfContours else 0))
        pen = TTGlyphPen(src_glyphs)
        src_glyphs[src_name].draw(TransformPen(pen, (scale, 0, 0, scale, dx, 0)))
        glyph = pen.glyph()
        glyph.recalcBounds(None)

        name = f"uni{cp:04X}"
        if name in dst["glyf"].glyphs:  # replace the existing design
            dst["glyf"][name] = glyph
        else:
            glyph_order.append(name)
            dst["glyf"].glyphs[name] = glyph
        dst["hmtx"][name] = (advance, glyph.xMin if glyph.numberOfContours else 0)
        for table in dst["cmap"].tables:
            if table.isUnicode():
                table.cmap[cp] = name
        copied.append(cp)
    dst.setGlyphOrder(glyph_order)
    dst["glyf"].glyphOrder = glyph_order
    return copied


def copyright_of(font: TTFont) -> str:
    return str(font["name"].getDebugName(0) or "").strip()


def version_of(font: TTFont) -> str:
    """'Version 2.003' from name ID 5, without the build-tool notes after ';'."""
    return str(font["name"].getDebugName(5) or "").split(";")[0].strip()


def rename(font: TTFont, serif_version: str, notices: list[str]) -> None:
    """Give the derivative its own names (OFL: no Reserved Font Names)."""
    name = font["name"]
    name.names = [r for r in name.names if r.nameID in (0, 7, 13, 14)]
    name.setName(" ".join(notices), 0, 3, 1, 0x409)
    version = (f"{serif_version}; {FAMILY}: GBK subset of Noto Serif SC"
               " with glyphs from Noto Sans Symbols2 and Noto Sans Math")
    for name_id, value in (
        (1, FAMILY),
        (2, STYLE),
        (3, f"{PS_NAME};xcapp"),
        (4, f"{FAMILY} {STYLE}"),
        (5, version),
        (6, PS_NAME),
    ):
        name.setName(value, name_id, 3, 1, 0x409)
    # Keep only Windows Unicode records: reportlab reads those.
    name.names = [r for r in name.names if r.platformID == 3]


def licence_text() -> str:
    """The SIL OFL 1.1 text shipped with pylopdf-fonts-zh-cn."""
    dist = metadata.distribution("pylopdf-fonts-zh-cn")
    for f in dist.files or []:
        if f.name.upper().startswith(("LICENSE", "OFL")):
            text = Path(dist.locate_file(f)).read_text(encoding="utf-8")
            if "SIL OPEN FONT LICENSE Version 1.1" in text:
                return text
    raise SystemExit("OFL text not found in pylopdf-fonts-zh-cn's metadata")


def write_licence(path: Path, serif: TTFont, symbols: TTFont, math: TTFont | None,
                  serif_pkg_version: str) -> None:
    lines = [
        f"{FAMILY} ({DEFAULT_OUT.name}) is a Modified Version, in the sense of the",
        "SIL Open Font License 1.1 below, of these fonts:",
        "",
        f"- Noto Serif SC ({version_of(serif)}), from the PyPI package",
        f"  pylopdf-fonts-zh-cn {serif_pkg_version} (upstream: https://github.com/notofonts/noto-cjk)",
        f"  {copyright_of(serif)}",
        "  The upstream noto-cjk licence names 'Source' as a Reserved Font Name;",
        "  this derivative does not use it.",
        f"- Noto Sans Symbols2 ({version_of(symbols)}), from Debian's fonts-noto-core",
        f"  {copyright_of(symbols)}",
    ]
    if math is not None:
        lines += [
            f"- Noto Sans Math ({version_of(math)}), from Debian's fonts-noto-core",
            f"  {copyright_of(math)}",
        ]
    lines += [
        "Noto is a trademark of Google Inc.",
        "",
        "Modifications: subset to the GBK character set, outlines converted from",
        "CFF to TrueType, glyphs merged from the fonts above, renamed. Rebuilt by",
        "tools/build_cjk_font.py.",
        "",
        "",
    ]
    path.write_text("\n".join(lines) + licence_text(), encoding="utf-8")


def build(args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    serif_path = Path(args.serif)
    print(f"source: {serif_path}")
    font = TTFont(serif_path, recalcTimestamp=False)
    serif_info = TTFont(serif_path, lazy=True)  # untouched copy for names
    symbols_info = TTFont(args.symbols, lazy=True)
    math_path = Path(args.math) if args.math else None
    if math_path is not None and not math_path.exists():
        print(f"  warning: {math_path} missing, skipping U+2252", file=sys.stderr)
        math_path = None
    math_info = TTFont(math_path, lazy=True) if math_path else None

    # 1. Subset. Code points that come from other fonts are left out here.
    cps = wanted_codepoints()
    have = set(font.getBestCmap())
    from_others = set(SYMBOL_CODEPOINTS) | (set(MATH_CODEPOINTS) if math_path else set())
    keep = (cps & have) - from_others
    # Gaps inside the symbol blocks are expected (unassigned or unusual code points).
    missing = sorted(cps - have - from_others - symbol_blocks())
    opts = subset.Options()
    opts.layout_features = []  # reportlab does no shaping
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    opts.glyph_names = False
    opts.hinting = False
    opts.desubroutinize = True
    opts.drop_tables = list(opts.drop_tables) + DROP_TABLES
    opts.recalc_timestamp = False
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=keep)
    sub.subset(font)
    print(f"  subset: {len(keep)} code points, {len(font.getGlyphOrder())} glyphs "
          f"({time.perf_counter() - t0:.1f} s)")
    if missing:
        print("  not in any source font: " + " ".join(f"U+{c:04X}" for c in missing),
              file=sys.stderr)

    # 2. CFF -> glyf.
    otf_to_ttf(font, args.max_err)
    print(f"  converted to TrueType ({time.perf_counter() - t0:.1f} s)")

    # 3. Merge the symbol glyphs.
    copied = copy_glyphs(font, Path(args.symbols), SYMBOL_CODEPOINTS)
    if math_path:
        copied += copy_glyphs(font, math_path, MATH_CODEPOINTS)
    print("  merged: " + " ".join(chr(c) for c in copied))

    # 4. Names, tables, metadata.
    for tag in DROP_TABLES:
        if tag in font:
            del font[tag]
    notices = [copyright_of(serif_info), copyright_of(symbols_info)]
    if math_info is not None and copyright_of(math_info) not in notices:
        notices.append(copyright_of(math_info))
    rename(font, version_of(serif_info), notices)
    font["OS/2"].recalcUnicodeRanges(font)
    font["OS/2"].usFirstCharIndex = min(font.getBestCmap())
    font["OS/2"].usLastCharIndex = min(max(font.getBestCmap()), 0xFFFF)
    # Reproducible output: timestamps come from the source font, not the clock.
    font["head"].created = serif_info["head"].created
    font["head"].modified = serif_info["head"].modified

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    font.save(out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"  wrote {out} ({out.stat().st_size:,} bytes, "
          f"{len(font.getGlyphOrder())} glyphs, sha256 {digest[:16]}…)")

    # 5. Licence.
    write_licence(Path(args.licence_out), serif_info, symbols_info, math_info,
                  metadata.version("pylopdf-fonts-zh-cn"))
    print(f"  wrote {args.licence_out}")

    # Self-check: every wanted code point present, and reportlab accepts the font.
    check = TTFont(out)
    cmap = check.getBestCmap()
    assert "glyf" in check and "CFF " not in check
    lost = [c for c in keep | set(copied) if c not in cmap]
    assert not lost, f"code points lost: {lost[:20]}"
    absent = [s for s in REQUIRED_SYMBOLS if ord(s) not in cmap]
    assert not absent, f"required symbols missing: {' '.join(absent)}"
    try:
        from reportlab.pdfbase.ttfonts import TTFont as RLTTFont
    except ImportError:
        print("  (reportlab not installed: skipped the reportlab load check)")
    else:
        RLTTFont(PS_NAME, str(out))
        print("  reportlab loads it")
    print(f"done in {time.perf_counter() - t0:.1f} s")


def main() -> None:
    try:
        import pylopdf_fonts_zh_cn
        default_serif = str(pylopdf_fonts_zh_cn.serif_path())
    except ImportError:
        default_serif = None
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--serif", default=default_serif, required=default_serif is None,
                   help="NotoSerifSC-Regular.otf (default: from pylopdf-fonts-zh-cn)")
    p.add_argument("--symbols", default=str(DEFAULT_SYMBOLS),
                   help=f"NotoSansSymbols2-Regular.ttf (default: {DEFAULT_SYMBOLS})")
    p.add_argument("--math", default=str(DEFAULT_MATH),
                   help=f"NotoSansMath-Regular.ttf for U+2252, '' to skip "
                        f"(default: {DEFAULT_MATH})")
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"output .ttf (default: {DEFAULT_OUT})")
    p.add_argument("--licence-out", default=str(DEFAULT_LICENCE_OUT),
                   help=f"output licence file (default: {DEFAULT_LICENCE_OUT})")
    p.add_argument("--max-err", type=float, default=DEFAULT_MAX_ERR,
                   help="cubic-to-quadratic error in font units (default: 1.0)")
    build(p.parse_args())


if __name__ == "__main__":
    main()
