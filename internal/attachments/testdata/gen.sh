#!/usr/bin/env bash
# Regenerates the WebP test files (needs Go and Debian's webp package:
# cwebp, webpmux, img2webp). Run from this directory: ./gen.sh
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run ./genwebp "$tmp"
cwebp -quiet -q 80 "$tmp/photo.png" -o "$tmp/photo.webp"
# EXIF with a marker string the tests look for, as a camera would add.
printf 'Exif\0\0MM\0*\0\0\0\x08\0\0\0\0\0\0GPS-MARKER-CAMERA-MODEL' >"$tmp/exif.bin"
webpmux -set exif "$tmp/exif.bin" "$tmp/photo.webp" -o photo.lossy.exif.webp >/dev/null 2>&1
cwebp -quiet -lossless -exact "$tmp/alpha.png" -o alpha.lossless.webp
cwebp -quiet -q 80 "$tmp/alpha.png" -o alpha.lossy.webp
img2webp -loop 0 -d 100 "$tmp/alpha.png" "$tmp/frame2.png" -o animated.webp
ls -l ./*.webp
