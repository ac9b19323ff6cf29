# One image for every HybridFlow service; the command picks the app.
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
RUN useradd --system --uid 10001 hybridflow
USER hybridflow
EXPOSE 8001 8002 8003 8090
CMD ["gunicorn", "-c", "python_services/gunicorn_conf.py", "python_services.collision.app:create_app()"]
