"""Small response builders shared by the features."""
from urllib.parse import quote

from flask import Response, flash


def file_response(data, mimetype: str, filename: str, inline: bool = False) -> Response:
    """A download (or an inline view) with a UTF-8 file name (RFC 6266), e.g. 公示-许市监抽〔2023〕1号.csv."""
    response = Response(data, mimetype=mimetype)
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(filename)}"
    return response


def apply_field_errors(form, errors: dict[str, str], message: str = "") -> None:
    """Put each refused field's message under its form field; anything without a field,
    or the general ``message`` when no field is named, becomes a flash message."""
    for key, text in errors.items():
        field = getattr(form, key, None)
        if field is not None:
            field.errors = [*(field.errors or []), text]
        else:
            flash(text, "error")
    if not errors and message:
        flash(message, "error")
