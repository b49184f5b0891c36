"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from xcapp import create_app

app = create_app()
