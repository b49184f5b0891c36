"""Error pages in Chinese; htmx requests get a short fragment instead of a page."""
import sqlite3

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError

from ..extensions import db

MESSAGES = {
    400: ("请求无效", "请求的内容不完整或格式不正确。"),
    403: ("没有权限", "您的账号无权访问此页面或执行此操作。"),
    404: ("页面不存在", "您要找的页面不存在，或不在您的权限范围内。"),
    405: ("不支持的操作", "此页面不支持该请求方式。"),
    413: ("文件过大", "上传的文件超过了允许的大小。"),
    500: ("系统错误", "服务器处理请求时出错，请稍后重试。如果问题持续，请联系管理员。"),
    503: ("系统繁忙", "数据库正忙，请稍后重试，您的数据未被修改。"),
}

# How long a client should wait before retrying after a 503 (seconds).
RETRY_AFTER = "2"


def _render(status: int, detail: str | None = None):
    title, message = MESSAGES.get(status, MESSAGES[500])
    template = "errors/fragment.html" if request.headers.get("HX-Request") == "true" else "errors/error.html"
    return render_template(template, status=status, title=title, message=detail or message), status


def register_error_handlers(app: Flask) -> None:
    for status in (400, 403, 404, 405, 413):
        app.register_error_handler(status, lambda e, s=status: _render(s))

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _render(400, "页面已过期或安全校验失败，请刷新页面后重试。")

    # A write that waited too long for a lock: SQLAlchemy's OperationalError (SQLite
    # "database is locked", PostgreSQL lock_timeout / deadlock / lost connection), or the
    # driver's own sqlite3.OperationalError raised by the writer queue (xcapp.db_setup)
    # before SQLAlchemy could wrap it. Nothing was written: 503, please retry.
    @app.errorhandler(OperationalError)
    @app.errorhandler(sqlite3.OperationalError)
    def database_busy(error):
        from ..db_setup import read_only_from_now

        db.session.rollback()
        read_only_from_now()   # the page itself must not wait for the write lock again
        app.logger.warning("database operational error: %s", error)
        body, status = _render(503)
        return body, status, {"Retry-After": RETRY_AFTER}

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return _render(500)
