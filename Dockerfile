# The web and worker image for the full stack (docker compose up).
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY reviewapp ./reviewapp
COPY auditcore ./auditcore
RUN pip install --no-cache-dir .
COPY . .
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput
RUN useradd --create-home audit && mkdir -p /data && chown audit /data
USER audit
EXPOSE 8000
