# One image for every HybridFlow service; the command picks the app.
# First stage: the front-end files the services serve themselves (Swagger UI
# for /api/docs), pinned in web/package-lock.json; npm stays out of the image.
FROM node:24-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY python_services ./python_services
COPY ops ./ops
COPY db ./db
COPY flows ./flows
COPY n8n-credentials.example.json ./
COPY --from=web /web/node_modules/swagger-ui-dist ./web/node_modules/swagger-ui-dist
# the console's usage charts
COPY --from=web /web/node_modules/chart.js ./web/node_modules/chart.js
# the console's live pages
COPY --from=web /web/node_modules/htmx.org/dist ./web/node_modules/htmx.org/dist
RUN useradd --system --uid 10001 hybridflow
USER hybridflow
EXPOSE 8001 8002 8003 8004 8090
CMD ["gunicorn", "-c", "python_services/gunicorn_conf.py", "python_services.collision.app:create_app()"]
