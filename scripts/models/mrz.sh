#!/usr/bin/env bash
# Trains `ocrb`, a legacy-engine (non-LSTM) Tesseract model for ICAO 9303 machine-readable
# zones, from Debian's OCR-B font, with Tesseract's own training tools.
#
#   scripts/models/mrz.sh <out_dir>      -> <out_dir>/ocrb.traineddata
#
# Why legacy and why trained here: MRZs are printed in one font (OCR-B) from a 37-character
# alphabet, which is exactly what Tesseract's legacy shape classifier is good at: it trains
# in one to two minutes on a CPU from rendered text, while Debian's `eng` model (LSTM only)
# misreads MRZs badly. Nothing is downloaded: the font and the tools are Debian packages.
# Shape clustering is left out on purpose (it merges OCR-B `O` with `0`); the reader
# (extract/src/mrz) settles the remaining letter/digit look-alikes by field type and glyph
# geometry.
#
# Idempotent: the model is rebuilt only when it is missing or was built by a different
# version of this script / of Tesseract (a hash stamp sits next to it).
set -euo pipefail

log() { printf '==> mrz model: %s\n' "$*" >&2; }
die() { printf 'mrz model: error: %s\n' "$*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 <out_dir>"
OUT_DIR=$1
MODEL="$OUT_DIR/ocrb.traineddata"
STAMP="$OUT_DIR/ocrb.traineddata.stamp"
FONT_DIR=/usr/share/fonts/opentype/ocr-b
FONT_NAME="OCR B"
ALPHABET="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# The training tools ship in Debian's `tesseract-ocr` itself (bookworm); the font in
# `fonts-ocr-b`. Install only what is missing.
ensure_packages() {
  local missing=() pkg
  for pkg in tesseract-ocr fonts-ocr-b; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]} (apt)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_packages
for tool in text2image tesseract unicharset_extractor mftraining cntraining combine_tessdata; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian package tesseract-ocr)"
done
[ -f "$FONT_DIR/OCRB.otf" ] || die "$FONT_DIR/OCRB.otf not found (Debian package fonts-ocr-b)"

SELF_HASH=$( { sha256sum <"${BASH_SOURCE[0]}"; tesseract --version 2>&1 | head -1; sha256sum <"$FONT_DIR/OCRB.otf"; } | sha256sum | cut -c1-16)
if [ -f "$MODEL" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$SELF_HASH" ]; then
  log "up to date ($MODEL)"
  exit 0
fi

mkdir -p "$OUT_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/attest-mrz-train.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
mkdir -p fontconfig

# Training text: MRZ-like lines (random characters with runs of fillers) from a fixed-seed
# linear congruential generator, so the same script always trains the same model.
LINES=400
seed=9303
next() { seed=$(( (seed * 1103515245 + 12345) % 2147483648 )); }
{
  for ((l = 0; l < LINES; l++)); do
    next; case $(( seed % 3 )) in 0) len=30 ;; 1) len=36 ;; *) len=44 ;; esac
    line=""
    for ((c = 0; c < len; c++)); do
      next
      if (( (seed >> 8) % 4 == 0 )); then line+="<"; else line+=${ALPHABET:$(( (seed >> 12) % 37 )):1}; fi
    done
    printf '%s\n' "$line"
  done
} > train.txt

echo "OCRB 0 0 1 0 0" > font_properties
EXPOSURES="-1 0 1" # lighter, normal and heavier print
trs=()
for exp in $EXPOSURES; do
  base="ocrb.OCRB.exp$exp"
  log "rendering and extracting features (exposure $exp)"
  text2image --text=train.txt --outputbase="$base" --font="$FONT_NAME" --fonts_dir="$FONT_DIR" \
    --fontconfig_tmpdir="$WORK/fontconfig" --ptsize=12 --resolution=300 --exposure="$exp" \
    --char_spacing=0.1 --leading=32 >text2image.log 2>&1 || { cat text2image.log >&2; die "text2image failed"; }
  tesseract "$base.tif" "$base" box.train >"$base.log" 2>&1 || { cat "$base.log" >&2; die "box.train failed"; }
  [ -s "$base.tr" ] || die "no features extracted for exposure $exp"
  trs+=("$base.tr")
done

log "clustering (${#trs[@]} feature files)"
unicharset_extractor ./*.box >unicharset.log 2>&1 || { cat unicharset.log >&2; die "unicharset_extractor failed"; }
# No shapeclustering: it merges O with 0 in OCR-B; mftraining then writes a flat shape
# table that keeps them apart.
mftraining -F font_properties -U unicharset -O ocrb.unicharset "${trs[@]}" >mftraining.log 2>&1 || { cat mftraining.log >&2; die "mftraining failed"; }
cntraining "${trs[@]}" >cntraining.log 2>&1 || { cat cntraining.log >&2; die "cntraining failed"; }
for part in inttemp normproto pffmtable shapetable; do
  [ -f "$part" ] || die "training produced no $part"
  mv "$part" "ocrb.$part"
done
combine_tessdata ocrb. >combine.log 2>&1 || { cat combine.log >&2; die "combine_tessdata failed"; }

cp ocrb.traineddata "$MODEL.tmp"
mv "$MODEL.tmp" "$MODEL"
printf '%s\n' "$SELF_HASH" > "$STAMP"
log "wrote $MODEL"
