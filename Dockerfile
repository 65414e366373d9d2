# One image for web (gunicorn), the Celery worker and Celery beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files and translations are built into the image; the values below exist only so the
# production settings load during the build (the real ones come from .env when it runs).
RUN CANOPY_ENV=production ALLOWED_HOSTS=build.invalid CANOPY_PUBLIC_URL=https://build.invalid \
    SECRET_KEY=build-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyzABCDEF \
    sh -c "python manage.py compilemessages --ignore '.venv/*' && python manage.py collectstatic --noinput" \
    && useradd --create-home --uid 1000 canopy \
    && chown -R canopy /app

USER canopy
EXPOSE 8000
CMD ["gunicorn", "community.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
