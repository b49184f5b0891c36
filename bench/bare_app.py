"""The floor for the item-save benchmark: a bare endpoint that updates one row in the
same database, served by the same gunicorn settings (no login, no CSRF, no audit)."""
import os

from flask import Flask
from sqlalchemy import create_engine, text

app = Flask(__name__)
engine = create_engine(os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+psycopg://", 1),
                       connect_args={"timeout": 15} if os.environ["DATABASE_URL"].startswith("sqlite") else {})


@app.post("/bare/<int:row>")
def bare(row: int):
    with engine.begin() as conn:
        conn.execute(text("UPDATE bench_counter SET n = n + 1 WHERE id = :id"), {"id": row})
    return "ok"
