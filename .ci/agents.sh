# Installs the agent CLIs that the presets are written for, each only if absent and never fatal:
# without a registry the agent_cli tests skip with the reason. Sourced by .ci/run (puts aider,
# which lives in its own venv, at the end of PATH so it cannot shadow this python).
AIDER_VENV="${AUTORESEARCH_AIDER_VENV:-$HOME/.cache/autoresearch/aider-venv}"
if ! command -v aider >/dev/null && [ ! -x "$AIDER_VENV/bin/aider" ]; then
    { python -m venv "$AIDER_VENV" && timeout 900 "$AIDER_VENV/bin/pip" install -q 'aider-chat==0.86.*' >"$AIDER_VENV.log" 2>&1; } \
        || echo "agents.sh: aider could not be installed; its tests will skip" >&2
fi
if [ -x "$AIDER_VENV/bin/aider" ]; then export PATH="$PATH:$AIDER_VENV/bin"; fi
if command -v npm >/dev/null; then
    for spec in claude=@anthropic-ai/claude-code@2.1 codex=@openai/codex@0.171 \
                gemini=@google/gemini-cli@0.61 opencode=opencode-ai@1.18 \
                pi=@mariozechner/pi-coding-agent@0.73; do
        command -v "${spec%%=*}" >/dev/null && continue
        timeout 600 npm install -g --no-audit --no-fund "${spec#*=}" >/dev/null 2>&1 \
            || echo "agents.sh: ${spec#*=} could not be installed; its preset test will skip" >&2
    done
else
    echo "agents.sh: no npm; the npm agent CLIs' preset tests will skip" >&2
fi
