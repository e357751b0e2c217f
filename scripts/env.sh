# Shared by scripts/test and .ci/run: where the pinned Python tools live, and how to install them.
# Pinned versions: the venv is rebuilt when this list changes.
SF2HS_PY_REQUIREMENTS="moto[server]==5.2.5 cfn-lint==1.51.0 aws-sam-translator==1.110.0"
SF2HS_VENV="${SF2HS_VENV:-$HOME/.cache/sf2hs/venv}"

ensure_python_tools() {
  local stamp="$SF2HS_VENV/.sf2hs-requirements"
  if [ -x "$SF2HS_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$SF2HS_PY_REQUIREMENTS" ]; then
    return 0
  fi
  echo "installing Python tools into $SF2HS_VENV: $SF2HS_PY_REQUIREMENTS" >&2
  rm -rf "$SF2HS_VENV"
  python3 -m venv "$SF2HS_VENV"
  # shellcheck disable=SC2086 # the list is split on purpose
  "$SF2HS_VENV/bin/pip" install --quiet --disable-pip-version-check $SF2HS_PY_REQUIREMENTS
  printf '%s' "$SF2HS_PY_REQUIREMENTS" >"$stamp"
}

# The console's browser tests drive Debian's headless Chromium through its chromedriver.
ensure_browser() {
  if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    return 0
  fi
  echo "installing Debian's chromium and chromium-driver (the console's browser tests)" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "chromium and chromium-driver are missing: install them (apt-get install chromium chromium-driver) as root" >&2; return 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
}
